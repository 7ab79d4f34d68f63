"""The fake's presets: the server the command line's ``--fake`` options describe.

The dataset is a pure function of ``(seed, messages)`` (see :func:`fake_dataset`), and
the fake's cursors encode a fingerprint of the dataset and the filters. So a fake
started again with the same options serves the same objects and accepts the cursors
an earlier run saved: an export with ``--fake`` resumes after ``kill -9`` exactly as
one against the real API.
"""

from __future__ import annotations

from typing import Literal

from postpress_async.testing._dataset import Dataset
from postpress_async.testing._faults import Faults, retryable_rates
from postpress_async.testing._live import LiveFeed
from postpress_async.testing._server import FakePostpress

__all__ = ["fake_dataset", "fake_faults", "fake_identity", "fake_server"]


def fake_dataset(
    *,
    seed: int,
    messages: int,
    bad_records: bool = False,
    chat_time: Literal["activity", "created"] = "activity",
    cursors: Literal["keyset", "offset"] = "keyset",
) -> Dataset:
    """The fake's dataset: about one chat per hundred messages, at least 40.

    ``bad_records``: seven messages carry the real API's bad bytes; ``chat_time``: what
    ``GET /chats``' ``before``/``after`` filter by; ``cursors``: keyset or offset
    pagination (see :class:`Dataset`).
    """
    chats = max(40, messages // 100)
    return Dataset(
        seed=seed,
        messages=messages,
        chats=chats,
        bad_records=bad_records,
        chat_time=chat_time,
        cursors=cursors,
    )


def fake_identity(dataset: Dataset) -> str:
    """What an export checkpoint records as its source when it ran against the fake."""
    cfg = dataset.config
    identity = (
        f"fake:seed={cfg.seed},accounts={cfg.accounts},chats={cfg.chats},messages={cfg.messages}"
    )
    if cfg.bad_records:
        identity += ",bad_records"
    if cfg.chat_time != "activity":  # its cursors differ: a resume must ask the same
        identity += f",chat_time={cfg.chat_time}"
    if cfg.cursors != "keyset":
        identity += f",cursors={cfg.cursors}"
    return identity


def fake_faults(*, seed: int, latency: float, fault_rate: float) -> Faults:
    """Latency (with a little jitter) and ``fault_rate`` spread over the retryable faults."""
    return Faults(
        latency=latency,
        jitter=latency / 4,
        rates=retryable_rates(fault_rate),
        seed=seed,
        retry_after=1.0,
    )


def fake_server(
    *,
    seed: int,
    messages: int,
    latency: float,
    fault_rate: float,
    live: LiveFeed | None = None,
    bad_records: bool = False,
    clock_skew: float = 0.0,
    chat_time: Literal["activity", "created"] = "activity",
    cursors: Literal["keyset", "offset"] = "keyset",
) -> FakePostpress:
    """A fake server (not started yet) for these options; ``live``: messages arriving;
    ``clock_skew``: seconds the server's clock is off the real one; ``chat_time``: what
    its chats' ``before``/``after`` filter by; ``cursors``: keyset or offset paging."""
    return FakePostpress(
        dataset=fake_dataset(
            seed=seed,
            messages=messages,
            bad_records=bad_records,
            chat_time=chat_time,
            cursors=cursors,
        ),
        faults=fake_faults(seed=seed, latency=latency, fault_rate=fault_rate),
        live=live,
        clock_skew=clock_skew,
    )
