"""The ``--fake`` presets live in ``postpress_async.testing``; the CLI module re-exports them."""

from __future__ import annotations

import pytest

import postpress_async.testing as testing
from postpress_async.testing import (
    Dataset,
    FakePostpress,
    FaultKind,
    LiveFeed,
    fake_dataset,
    fake_faults,
    fake_identity,
    fake_server,
)


def test_the_presets_have_one_home_in_testing() -> None:
    """The command line's ``--fake`` and the tests build the same fake from ``testing``."""
    for name in ("fake_dataset", "fake_faults", "fake_identity", "fake_server"):
        assert name in testing.__all__
        assert getattr(testing, name).__module__ == "postpress_async.testing._presets"


def test_the_dataset_has_one_chat_per_hundred_messages_and_at_least_40() -> None:
    assert fake_dataset(seed=3, messages=1000) == Dataset(seed=3, messages=1000, chats=40)
    assert fake_dataset(seed=3, messages=9000).config.chats == 90
    assert fake_dataset(seed=1, messages=300) != fake_dataset(seed=2, messages=300)


def test_the_identity_names_every_field_the_bytes_depend_on() -> None:
    dataset = fake_dataset(seed=5, messages=2000)
    assert fake_identity(dataset) == "fake:seed=5,accounts=14,chats=40,messages=2000"
    spoiled = fake_dataset(seed=5, messages=2000, bad_records=True)
    assert spoiled.bad_messages()
    assert fake_identity(spoiled) == "fake:seed=5,accounts=14,chats=40,messages=2000,bad_records"


def test_the_faults_spread_the_rate_over_retryable_errors() -> None:
    faults = fake_faults(seed=9, latency=0.02, fault_rate=0.4)
    assert faults.latency == 0.02
    assert faults.jitter == 0.005
    assert faults.seed == 9
    assert faults.rates[FaultKind.SERVICE_UNAVAILABLE] > 0
    assert sum(faults.rates.values()) == pytest.approx(0.4)
    assert not fake_faults(seed=0, latency=0.0, fault_rate=0.0).rates


def test_the_server_combines_the_presets() -> None:
    feed = LiveFeed(rate=5.0)
    server = fake_server(seed=2, messages=500, latency=0.01, fault_rate=0.1, live=feed)
    assert isinstance(server, FakePostpress)
    assert server.dataset == fake_dataset(seed=2, messages=500)
    assert server.faults.default == fake_faults(seed=2, latency=0.01, fault_rate=0.1)
    assert server.live_feed is feed
    assert server.clock_skew == 0.0
    odd = fake_server(
        seed=2, messages=500, latency=0, fault_rate=0, bad_records=True, clock_skew=-120
    )
    assert odd.dataset == fake_dataset(seed=2, messages=500, bad_records=True)
    assert odd.clock_skew == -120.0
