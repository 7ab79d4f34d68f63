"""How a worker builds its client: the client's configuration as a plain value."""

from __future__ import annotations

from typing import Any

import msgspec

from postpress_async._client import AsyncPostpress, added_headers
from postpress_async._config import (
    ChatTime,
    Limits,
    RetryPolicy,
    Timeout,
    as_timeout,
    check_chat_time,
)
from postpress_async._exceptions import InvalidParameterError
from postpress_async._params import (
    MAX_LIMIT,
    check_attempts,
    check_in_flight,
    check_prefetch,
    encode_limit,
)
from postpress_async._transport import Transport

__all__ = ["ClientConfig"]


class ClientConfig(msgspec.Struct, frozen=True, kw_only=True):
    """How to build a client, as a plain value a worker process can receive.

    Its ``repr`` (and rich's) never shows the API key.
    """

    base_url: str
    api_key: str
    #: As ``AsyncPostpress(timeout=)``: a :class:`~postpress_async.Timeout`, seconds for
    #: the whole attempt, or ``None`` (the defaults).
    timeout: Timeout | float | None = None
    attempts: int | None = None
    max_in_flight: int = 16
    #: Page size of the shards' list requests.
    limit: int = MAX_LIMIT
    prefetch: int = 2
    allow_insecure_http: bool = False
    #: The name of the request budget a Dask worker's requests share with every other
    #: worker's (a ``distributed.Semaphore`` of ``max_in_flight`` leases, set by the
    #: Dask engine); ``None``: only this client's own in-flight limit.
    budget: str | None = None
    #: What ``GET /chats``' ``before``/``after`` filter by (``AsyncPostpress(chat_time=)``).
    chat_time: ChatTime = "activity"
    #: Headers every request carries besides the client's own, as ``(name, value)`` pairs
    #: (``AsyncPostpress(default_headers=)``, say a proxy's credentials); the reprs show
    #: their names only.
    default_headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # Built by hand or decoded, a bad value is refused here, not once a store is
        # opened and shards are planned (msgspec checks no types of a Struct built by hand).
        check_chat_time(self.chat_time)
        for name in ("base_url", "api_key"):
            if not isinstance(getattr(self, name), str):
                raise InvalidParameterError(
                    name, f"must be a str, got {type(getattr(self, name)).__name__}"
                )
        _check_headers(self.default_headers)
        encode_limit(self.limit)
        check_prefetch(self.prefetch)
        check_in_flight("max_in_flight", self.max_in_flight)
        if self.budget is not None and not (isinstance(self.budget, str) and self.budget):
            # An empty name would give each worker a semaphore of its own (distributed
            # names a nameless one at random): no shared budget at all.
            raise InvalidParameterError(
                "budget", f"must be the name of a Dask semaphore or None, got {self.budget!r}"
            )
        if self.attempts is not None:
            check_attempts("attempts", self.attempts)
        as_timeout(self.timeout)  # the client's own check of its timeout=

    def __repr__(self) -> str:
        headers = f", default_headers={_names(self)!r}" if self.default_headers else ""
        return (
            f"ClientConfig(base_url={self.base_url!r}, api_key='...', timeout={self.timeout!r}, "
            f"attempts={self.attempts!r}, max_in_flight={self.max_in_flight!r}{headers})"
        )

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        # rich (pretty printing, tracebacks with locals) asks a Struct for this, not repr.
        hidden = {"api_key": "...", "default_headers": _names(self)}
        return [(name, hidden.get(name, getattr(self, name))) for name in self.__struct_fields__]

    @classmethod
    def from_client(
        cls, client: AsyncPostpress[Any], *, limit: int | None = None, prefetch: int = 2
    ) -> ClientConfig:
        """The configuration of ``client`` (URL, key, timeout, attempts, in-flight limit,
        ``chat_time``, the headers its caller added).

        Only what these fields hold travels: of the timeout its ``total`` (a total of
        ``None`` gives the workers the default :class:`~postpress_async.Timeout`), of the
        retry policy its ``attempts``, of the limits ``max_in_flight``; a rate limit or
        other settings of ``client`` are not carried."""
        return cls(
            base_url=client.base_url,
            api_key=client._api_key,
            timeout=client.timeout,  # all of it: its total alone reads as other timeouts
            attempts=client.retry.attempts,
            max_in_flight=client.limits.max_in_flight,
            limit=MAX_LIMIT if limit is None else limit,
            prefetch=prefetch,
            allow_insecure_http=client.base_url.startswith("http://"),
            chat_time=client.chat_time,
            default_headers=tuple(added_headers(client).items()),
        )

    def client(self, *, transport: Transport | None = None) -> AsyncPostpress:
        """A new client for this configuration (the caller closes it); ``transport``
        replaces the HTTP transport (the Dask engine wraps one in the request budget)."""
        return AsyncPostpress(
            api_key=self.api_key,
            base_url=self.base_url,
            timeout=self.timeout,
            retry=None if self.attempts is None else RetryPolicy(attempts=self.attempts),
            limits=Limits(max_in_flight=self.max_in_flight),
            allow_insecure_http=self.allow_insecure_http,
            transport=transport,
            chat_time=self.chat_time,
            default_headers=dict(self.default_headers),
        )


def _check_headers(headers: object) -> None:
    """``(name, value)`` pairs of str (a dict would break the repr and the JSON a worker
    decodes)."""
    if not isinstance(headers, (tuple, list)) or not all(
        isinstance(pair, (tuple, list))
        and len(pair) == 2
        and all(isinstance(part, str) for part in pair)
        for pair in headers
    ):
        raise InvalidParameterError(
            "default_headers",
            f"must be (name, value) pairs of str, such as tuple(headers.items()), "
            f"got {type(headers).__name__}",
        )


def _names(config: ClientConfig) -> tuple[str, ...]:
    """The names of ``config``'s extra headers (their values may be credentials)."""
    return tuple(name for name, _ in config.default_headers)
