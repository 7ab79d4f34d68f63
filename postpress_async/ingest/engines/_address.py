"""A Dask scheduler's address, checked without importing Dask.

Dask takes ``[scheme://]host:port`` (no scheme: ``tcp``); what it cannot parse it
refuses with a bare ``ValueError`` only once the engine starts, after the store is open.
"""

from __future__ import annotations

from typing import Final

from postpress_async._exceptions import InvalidParameterError

__all__ = ["check_scheduler"]

#: Schemes whose address is ``host:port`` (distributed's tcp, tls and websocket comms).
_HOST_PORT: Final = frozenset({"tcp", "tls", "ws", "wss"})
#: Schemes whose address this module leaves to Dask.
_OTHER: Final = frozenset({"ucx", "inproc"})
_EXAMPLE: Final = "an address such as 'tcp://host:8786'"


def check_scheduler(address: object) -> str | None:
    """``address`` if Dask can parse it (or ``None``); else :class:`InvalidParameterError`."""
    if address is None:
        return None
    if not isinstance(address, str) or not address:
        raise InvalidParameterError(
            "scheduler",
            f"must be {_EXAMPLE}, or None, got {address!r} (a distributed.Client's is "
            "client.scheduler.address, a cluster's cluster.scheduler_address)",
        )
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme in ("http", "https"):
        raise InvalidParameterError(
            "scheduler",
            f"{address!r} looks like the dashboard's URL; the scheduler listens on "
            f"{_EXAMPLE} (port 8786 by default)",
        )
    if scheme in _OTHER:
        return address
    if scheme not in _HOST_PORT:
        known = ", ".join(sorted(_HOST_PORT | _OTHER))
        raise InvalidParameterError(
            "scheduler", f"unknown scheme {scheme!r} in {address!r} (Dask knows {known})"
        )
    _host, colon, port = rest.rpartition(":")
    if not colon or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidParameterError(
            "scheduler", f"{address!r} has no port in 1..65535: give {_EXAMPLE}"
        )
    return address
