"""The HTTP seam: every request the SDK makes goes through one ``Transport.send``.

* :class:`MockTransport` answers from a function (plain or async) of :class:`Request` to
  :class:`Response`: unit tests with no server, as httpx's ``MockTransport``::

      from postpress_async import AsyncPostpress
      from postpress_async.transports import MockTransport, Request, Response

      def handler(request: Request) -> Response:
          return Response(status=200, headers={}, content=b'{"items": [], "cursor": null}')

      client = AsyncPostpress(api_key="k", transport=MockTransport(handler))

* :class:`AiohttpTransport` is the default, over an ``aiohttp.ClientSession`` (imported on
  first use, so importing the SDK does not pay for aiohttp);
* :class:`Transport` is the protocol a custom transport implements (retries, limits,
  hooks and decoding run above it, whatever it is).
"""

from typing import TYPE_CHECKING, Any

from ._transport import MockTransport as MockTransport
from ._transport import Request as Request
from ._transport import Response as Response
from ._transport import Transport as Transport

if TYPE_CHECKING:
    from ._transport import AiohttpTransport as AiohttpTransport

__all__ = ["AiohttpTransport", "MockTransport", "Request", "Response", "Transport"]


if not TYPE_CHECKING:  # checkers see the names above; any other is their error, not Any

    def __getattr__(name: str) -> Any:
        # AiohttpTransport is the one name here that needs aiohttp: imported on first use.
        if name == "AiohttpTransport":
            from ._transport import AiohttpTransport

            return AiohttpTransport
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
