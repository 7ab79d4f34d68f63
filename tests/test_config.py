"""Config values: every field checked, in the constructor and in ``replace()`` alike."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from postpress_async import InvalidParameterError, Limits, RetryPolicy, Timeout

BAD_VALUES = [
    pytest.param(lambda: RetryPolicy().replace(attempts=0), "retry.attempts", id="attempts-0"),
    pytest.param(lambda: RetryPolicy().replace(atempts=3), "retry.atempts", id="unknown-field"),
    pytest.param(
        lambda: RetryPolicy().replace(wait_initial=float("nan")),
        "retry.wait_initial",
        id="nan-wait",
    ),
    pytest.param(lambda: RetryPolicy(wait_max=float("inf")), "retry.wait_max", id="infinite-wait"),
    pytest.param(
        lambda: RetryPolicy().replace(retry_connection_errors="no"),
        "retry.retry_connection_errors",
        id="flag-not-bool",
    ),
    pytest.param(
        lambda: RetryPolicy(retry_on={"429": {"*"}}), "retry.retry_on", id="status-not-int"
    ),
    pytest.param(
        lambda: RetryPolicy().replace(retry_on={429: "errors/x"}),
        "retry.retry_on",
        id="types-a-bare-string",
    ),
    pytest.param(lambda: RetryPolicy(retry_on={999: {"*"}}), "retry.retry_on", id="status-999"),
    pytest.param(lambda: Timeout().replace(total="5"), "timeout.total", id="timeout-str"),
    pytest.param(lambda: Timeout().replace(totl=5.0), "timeout.totl", id="timeout-unknown"),
    pytest.param(lambda: Limits().replace(max_in_flight=1.5), "limits.max_in_flight", id="float"),
    pytest.param(lambda: Limits().replace(max_inflight=2), "limits.max_inflight", id="unknown"),
    pytest.param(lambda: RetryPolicy(deadline=10**400), "retry.deadline", id="huge-int-deadline"),
    pytest.param(lambda: Timeout(total=10**400), "timeout.total", id="huge-int-timeout"),
]


@pytest.mark.parametrize(("make", "param"), BAD_VALUES)
def test_bad_config_is_refused_naming_the_field(make: Callable[[], object], param: str) -> None:
    """A bad or unknown field is an InvalidParameterError naming it, whichever way it came."""
    with pytest.raises(InvalidParameterError) as info:
        make()
    assert info.value.param == param


def test_replace_keeps_the_other_fields_and_the_original() -> None:
    """``replace`` is a checked copy: the original value does not change."""
    policy = RetryPolicy(attempts=3)
    changed = policy.replace(wait_max=1.0)
    assert (changed.attempts, changed.wait_max, policy.wait_max) == (3, 1.0, 10.0)
    assert Limits().replace(adaptive=True).adaptive is True
