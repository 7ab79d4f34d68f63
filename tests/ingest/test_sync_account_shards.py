"""A backfill cut by account, then its follow: the shards end at different moments.

Each account's shard lists its account up to where its listing ended; a message of that
account arriving while the other shards still run (a long backfill, or a run killed and
run again) is newer than that shard stored, and must be stored by the follow that
continues the export, however far behind the newest message of the other accounts.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import msgspec
import pytest

from postpress_async import StateMismatchError
from postpress_async._poll import PollPolicy
from postpress_async.ingest import ClientConfig, LocalEngine, Shard, ShardPlan, ingest, verify
from postpress_async.testing import FakePostpress, fake_dataset

from ._memory import Crash, CrashingSink, MemorySink, MemoryStore
from .test_run import exactly_once

#: The follow's overlap: far shorter than the time the other shards took.
POLICY = PollPolicy(interval=0.05, max_interval=0.05, jitter=0.0, overlap=0.3)


async def _killed_after_one_shard(
    config: ClientConfig, endpoint: Literal["messages", "chats"], store: MemoryStore, **plan: Any
) -> tuple[ShardPlan, Shard]:
    """Run an export one shard at a time and kill it once the first shard is stored: the
    stored plan, and its one shard that ended (the others start in the next run)."""
    one_at_a_time = LocalEngine(concurrency=1, max_pages=1)
    with pytest.raises(Crash):
        await ingest(
            config,
            endpoint,
            CrashingSink(MemorySink(store), at=1),
            engine=one_at_a_time,
            policy=POLICY,
            **plan,
        )
    sink = MemorySink(store)
    await sink.open()
    stored_plan = await sink.load_plan(endpoint)
    stored = await sink.positions(endpoint)
    await sink.close()
    assert stored_plan is not None and len(stored_plan.shards) > 2
    ended = [shard for shard in stored_plan.shards if shard.label in stored]
    assert len(ended) == 1
    return stored_plan, ended[0]


async def test_a_message_arriving_in_an_account_whose_shard_had_ended_is_stored() -> None:
    async with FakePostpress(dataset=fake_dataset(seed=3, messages=300)) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=100)
        store = MemoryStore(append=True)
        # Killed once the first account's shard is stored; the others start in the next run.
        plan, first = await _killed_after_one_shard(config, "messages", store, by="account")
        last = plan.shards[-1]

        def chat_of(shard_account: str) -> str:
            return server.truth("chats", account_id=shard_account)[0]

        now = datetime.fromtimestamp(server.now(), timezone.utc)
        # Listed at once, after the first account's shard had ended; two seconds before
        # the newest message of another account, which its shard lists when it runs.
        late = server.add_messages(
            1, timestamp=now - timedelta(seconds=2), chat_id=chat_of(first.filters["account_id"])
        )
        server.add_messages(1, timestamp=now, chat_id=chat_of(last.filters["account_id"]))
        again = await ingest(config, "messages", MemorySink(store), policy=POLICY)
        assert again.backfill_done
        assert late[0] in store.ids("messages")
        assert again.new == again.items  # each stored once, counted once
        exactly_once(store, server)
        quiet = await ingest(config, "messages", MemorySink(store), policy=POLICY)
        assert quiet.items == 0
        exactly_once(store, server)


@pytest.mark.parametrize("chat_time", ["activity", "created"])
async def test_a_chat_that_moved_in_a_group_whose_shard_had_ended_is_stored_again(
    chat_time: Literal["activity", "created"],
) -> None:
    dataset = fake_dataset(seed=3, messages=300, chat_time=chat_time)
    async with FakePostpress(dataset=dataset) as server:
        config = ClientConfig(
            base_url=server.url, api_key=server.api_key, limit=100, chat_time=chat_time
        )
        store = MemoryStore()
        # Killed once the first group's shard is stored.
        plan, ended = await _killed_after_one_shard(config, "chats", store, shards=4)
        first = ended.filters["account_id"].split(",")[0]
        last = plan.shards[-1].filters["account_id"].split(",")[0]
        moved = server.truth("chats", account_id=first)[0]
        now = datetime.fromtimestamp(server.now(), timezone.utc)
        server.add_messages(1, timestamp=now - timedelta(seconds=2), chat_id=moved)
        server.add_messages(1, timestamp=now, chat_id=server.truth("chats", account_id=last)[0])
        again = await ingest(config, "chats", MemorySink(store), policy=POLICY)
        assert again.backfill_done
        index = server.dataset.find_chat(moved)
        assert index is not None
        kept = msgspec.json.decode(store.data("chats", moved))
        assert kept["timestamp"] == server.dataset.chat(index)["timestamp"]
        assert Counter(store.ids("chats")) == Counter(server.truth("chats"))
        assert {key for key, n in store.written["chats"].items() if n > 1} == {moved}


# -- a stored plan this release cannot read ---------------------------------------------------


async def test_a_stored_plan_that_cannot_be_read_names_the_store_and_force(
    tmp_path: Path,
) -> None:
    async with FakePostpress(dataset=fake_dataset(seed=3, messages=300)) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=100)
        url = f"sqlite:///{tmp_path / 'm.db'}"
        await ingest(config, "messages", url, shards=2)
        with sqlite3.connect(tmp_path / "m.db") as db:  # as another release might store it
            db.execute("UPDATE plans SET plan = replace(plan, '\"requested\"', '\"asked\"')")
        db.close()
        for run in (ingest, verify):
            with pytest.raises(StateMismatchError) as caught:
                await run(config, "messages", url)
            assert "m.db" in str(caught.value) and "force=True" in str(caught.value)
            assert "requested" in str(caught.value)  # what is wrong with it
        again = await ingest(config, "messages", url, force=True)
        assert again.backfill_done
