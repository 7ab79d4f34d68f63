"""postpress-async: the async-first Python SDK for the postpress messaging API.

::

    async with AsyncPostpress(api_key="pp_live_...") as client:
        async for message in client.messages.list(after="2026-05-01T00:00:00Z"):
            ...
        async for message in client.messages.watch():  # new messages as they arrive
            ...

Every response model lives in :mod:`postpress_async.models`; the embedded fake
server in :mod:`postpress_async.testing`.
"""

from typing import TYPE_CHECKING

from . import models as models
from ._client import AsyncPostpress as AsyncPostpress
from ._client import RawResponse as RawResponse
from ._config import DEFAULT_BASE_URL as DEFAULT_BASE_URL
from ._config import DEFAULT_RETRY_ON as DEFAULT_RETRY_ON
from ._config import Limits as Limits
from ._config import RetryPolicy as RetryPolicy
from ._config import Timeout as Timeout
from ._decoding import UnreadableItem as UnreadableItem
from ._durable import fsync_dir as fsync_dir
from ._durable import write_atomic as write_atomic
from ._encoding import encode_json as encode_json
from ._encoding import encode_json_lines as encode_json_lines
from ._exceptions import APIConnectionError as APIConnectionError
from ._exceptions import APIStatusError as APIStatusError
from ._exceptions import APITimeoutError as APITimeoutError
from ._exceptions import AuthenticationError as AuthenticationError
from ._exceptions import BadGatewayError as BadGatewayError
from ._exceptions import BadRequestError as BadRequestError
from ._exceptions import ClientClosedError as ClientClosedError
from ._exceptions import CursorLoopError as CursorLoopError
from ._exceptions import EngineUnavailableError as EngineUnavailableError
from ._exceptions import EventLoopError as EventLoopError
from ._exceptions import GatewayTimeoutError as GatewayTimeoutError
from ._exceptions import IngestError as IngestError
from ._exceptions import InternalServerError as InternalServerError
from ._exceptions import InvalidParameterError as InvalidParameterError
from ._exceptions import MissingAPIKeyError as MissingAPIKeyError
from ._exceptions import NotFoundError as NotFoundError
from ._exceptions import OutputLockedError as OutputLockedError
from ._exceptions import PermissionDeniedError as PermissionDeniedError
from ._exceptions import PlanMismatchError as PlanMismatchError
from ._exceptions import PostpressError as PostpressError
from ._exceptions import RateLimitError as RateLimitError
from ._exceptions import RedirectError as RedirectError
from ._exceptions import ResponseDecodeError as ResponseDecodeError
from ._exceptions import ResponseTooLargeError as ResponseTooLargeError
from ._exceptions import ServiceUnavailableError as ServiceUnavailableError
from ._exceptions import ShardConflictError as ShardConflictError
from ._exceptions import ShardFailedError as ShardFailedError
from ._exceptions import SinkUnavailableError as SinkUnavailableError
from ._exceptions import StateMismatchError as StateMismatchError
from ._exceptions import UnreadableItemError as UnreadableItemError
from ._fanout import MergedStream as MergedStream
from ._fanout import SourcePage as SourcePage
from ._fanout import merge as merge
from ._filelock import OutputLock as OutputLock
from ._filelock import lock_output as lock_output
from ._observe import RequestEvent as RequestEvent
from ._observe import ResponseEvent as ResponseEvent
from ._observe import RetryEvent as RetryEvent
from ._pagination import ListStream as ListStream
from ._params import MAX_LIMIT as MAX_LIMIT
from ._positions import Checkpoint as Checkpoint
from ._positions import WatchState as WatchState
from ._sender import ClientStats as ClientStats
from ._time import format_datetime as format_datetime
from ._time import parse_datetime as parse_datetime
from ._time import split_window as split_window
from ._time import strict_windows as strict_windows
from ._transport import MockTransport as MockTransport
from ._transport import Request as Request
from ._transport import Response as Response
from ._transport import Transport as Transport
from ._version import __version__ as __version__
from ._watch import PollPolicy as PollPolicy
from ._watch import WatchStream as WatchStream
from .models import Account as Account
from .models import Attachment as Attachment
from .models import Chat as Chat
from .models import Message as Message
from .models import Page as Page

if TYPE_CHECKING:
    from ._transport import AiohttpTransport as AiohttpTransport

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_RETRY_ON",
    "MAX_LIMIT",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "Account",
    "AiohttpTransport",
    "AsyncPostpress",
    "Attachment",
    "AuthenticationError",
    "BadGatewayError",
    "BadRequestError",
    "Chat",
    "Checkpoint",
    "ClientClosedError",
    "ClientStats",
    "CursorLoopError",
    "EngineUnavailableError",
    "EventLoopError",
    "GatewayTimeoutError",
    "IngestError",
    "InternalServerError",
    "InvalidParameterError",
    "Limits",
    "ListStream",
    "MergedStream",
    "Message",
    "MissingAPIKeyError",
    "MockTransport",
    "NotFoundError",
    "OutputLock",
    "OutputLockedError",
    "Page",
    "PermissionDeniedError",
    "PlanMismatchError",
    "PollPolicy",
    "PostpressError",
    "RateLimitError",
    "RawResponse",
    "RedirectError",
    "Request",
    "RequestEvent",
    "Response",
    "ResponseDecodeError",
    "ResponseEvent",
    "ResponseTooLargeError",
    "RetryEvent",
    "RetryPolicy",
    "ServiceUnavailableError",
    "ShardConflictError",
    "ShardFailedError",
    "SinkUnavailableError",
    "SourcePage",
    "StateMismatchError",
    "Timeout",
    "Transport",
    "UnreadableItem",
    "UnreadableItemError",
    "WatchState",
    "WatchStream",
    "__version__",
    "encode_json",
    "encode_json_lines",
    "format_datetime",
    "fsync_dir",
    "lock_output",
    "merge",
    "models",
    "parse_datetime",
    "split_window",
    "strict_windows",
    "write_atomic",
]


def __getattr__(name: str) -> object:
    # AiohttpTransport is the one public name that needs aiohttp: imported on first use.
    if name == "AiohttpTransport":
        from ._transport import AiohttpTransport

        return AiohttpTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
