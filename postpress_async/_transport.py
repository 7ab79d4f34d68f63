"""The single seam between the SDK and HTTP: the only module that touches aiohttp.

Everything else speaks :class:`Request` and :class:`Response`; retries wrap
:meth:`Transport.send`, pagination calls it, tests can replace it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Mapping
from typing import Protocol

import aiohttp
from yarl import URL

from ._config import Limits, Timeout
from ._exceptions import APIConnectionError, APITimeoutError

__all__ = ["AiohttpTransport", "Request", "Response", "Transport"]


@dataclasses.dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, fully built: ``url`` is already percent-encoded."""

    method: str
    url: str
    headers: Mapping[str, str]
    #: The method and URL template for errors and logs, e.g. ``"GET /messages"``.
    endpoint: str = ""
    #: The accounts the request names (``account_id``), for per-account rate limits.
    accounts: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Response:
    """An HTTP response read in full."""

    status: int
    headers: Mapping[str, str]
    content: bytes


class Transport(Protocol):
    """What the client needs from HTTP: send a request, read the whole response."""

    async def send(self, request: Request, *, timeout: Timeout) -> Response:
        """Send ``request``; raise APIConnectionError / APITimeoutError if no full response."""
        ...

    async def aclose(self) -> None:
        """Release the transport's resources."""
        ...


class AiohttpTransport:
    """A :class:`Transport` over an ``aiohttp.ClientSession``.

    With ``session=None`` it creates its own session lazily (inside the running
    loop) and closes it in :meth:`aclose`; a caller's session is never closed.
    """

    def __init__(
        self, *, session: aiohttp.ClientSession | None = None, limits: Limits | None = None
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._limits = limits or Limits()
        self._closed = False

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections, ttl_dns_cache=300, enable_cleanup_closed=False
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # The SDK decodes bytes itself; auto_decompress stays on for gzip bodies.
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def send(self, request: Request, *, timeout: Timeout) -> Response:
        if self._closed:
            raise RuntimeError("the client is closed")
        session = self._get_session()
        try:
            async with session.request(
                request.method,
                URL(request.url, encoded=True),
                headers=request.headers,
                timeout=_client_timeout(timeout),
                allow_redirects=False,
            ) as resp:
                content = await resp.read()
                return Response(status=resp.status, headers=_headers(resp.headers), content=content)
        except asyncio.TimeoutError as exc:
            raise APITimeoutError(
                "Request timed out", method=request.method, url=request.url
            ) from exc
        except aiohttp.ClientPayloadError as exc:
            raise APIConnectionError(
                f"Response body broken off: {exc}", method=request.method, url=request.url
            ) from exc
        except aiohttp.ClientError as exc:
            raise APIConnectionError(
                f"Connection failed: {type(exc).__name__}: {exc}",
                method=request.method,
                url=request.url,
            ) from exc

    async def aclose(self) -> None:
        self._closed = True
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None


@functools.lru_cache(maxsize=64)
def _client_timeout(timeout: Timeout) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(
        total=timeout.total, connect=timeout.connect, sock_read=timeout.read
    )


def _headers(raw: Mapping[str, str]) -> Mapping[str, str]:
    # Lower-cased plain dict: cheap to look up, no aiohttp types past the seam.
    return {key.lower(): value for key, value in raw.items()}
