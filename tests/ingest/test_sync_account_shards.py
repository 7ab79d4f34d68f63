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
from typing import Literal

import msgspec
import pytest

from postpress_async import StateMismatchError
from postpress_async._poll import PollPolicy
from postpress_async.ingest import ClientConfig, LocalEngine, ingest, verify
from postpress_async.testing import FakePostpress, fake_dataset

from ._memory import Crash, CrashingSink, MemorySink, MemoryStore
from .test_run import exactly_once

#: The follow's overlap: far shorter than the time the other shards took.
POLICY = PollPolicy(interval=0.05, max_interval=0.05, jitter=0.0, overlap=0.3)


async def test_a_message_arriving_in_an_account_whose_shard_had_ended_is_stored() -> None:
    async with FakePostpress(dataset=fake_dataset(seed=3, messages=300)) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=100)
        store = MemoryStore(append=True)
        one_at_a_time = LocalEngine(concurrency=1, max_pages=1)
        with pytest.raises(Crash):  # killed once the first account's shard is stored
            await ingest(
                config,
                "messages",
                CrashingSink(MemorySink(store), at=1),
                by="account",
                engine=one_at_a_time,
                policy=POLICY,
            )
        sink = MemorySink(store)
        await sink.open()
        plan = await sink.load_plan("messages")
        stored = await sink.positions("messages")
        await sink.close()
        assert plan is not None and len(plan.shards) > 2
        ended = [shard for shard in plan.shards if shard.label in stored]
        assert len(ended) == 1  # the others start in the next run
        first, last = ended[0], plan.shards[-1]

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
        one_at_a_time = LocalEngine(concurrency=1, max_pages=1)
        with pytest.raises(Crash):  # killed once the first group's shard is stored
            await ingest(
                config,
                "chats",
                CrashingSink(MemorySink(store), at=1),
                shards=4,
                engine=one_at_a_time,
                policy=POLICY,
            )
        sink = MemorySink(store)
        await sink.open()
        plan = await sink.load_plan("chats")
        stored = await sink.positions("chats")
        await sink.close()
        assert plan is not None and len(plan.shards) > 2
        ended = [shard for shard in plan.shards if shard.label in stored]
        assert len(ended) == 1
        first = ended[0].filters["account_id"].split(",")[0]
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
