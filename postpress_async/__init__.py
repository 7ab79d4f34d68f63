"""postpress-async: the async-first Python SDK for the postpress messaging API.

::

    async with AsyncPostpress(api_key="pp_live_...") as client:
        async for message in client.messages.list(after="2026-05-01T00:00:00Z"):
            ...
        async for message in client.messages.watch():  # new messages as they arrive
            ...

The root holds what a user of the SDK calls: the client and its configuration values,
the streams and their positions, the events and stats, and the one tree of errors.
Beside it: :mod:`postpress_async.models` (every response model),
:mod:`postpress_async.transports` (the HTTP seam and ``MockTransport`` for tests),
:mod:`postpress_async.ingest` (keeping a database in sync), :mod:`postpress_async.testing`
(the embedded fake server) and :mod:`postpress_async.types` (names for annotations).
"""

from typing import TYPE_CHECKING, Any

from . import models as models
from ._client import AsyncPostpress as AsyncPostpress
from ._client import RawResponse as RawResponse
from ._config import Limits as Limits
from ._config import RetryPolicy as RetryPolicy
from ._config import Timeout as Timeout
from ._decoding import UnreadableItem as UnreadableItem
from ._deprecated import moved
from ._exceptions import APIConnectionError as APIConnectionError
from ._exceptions import APIStatusError as APIStatusError
from ._exceptions import APITimeoutError as APITimeoutError
from ._exceptions import AuthenticationError as AuthenticationError
from ._exceptions import BadGatewayError as BadGatewayError
from ._exceptions import BadRequestError as BadRequestError
from ._exceptions import ClientClosedError as ClientClosedError
from ._exceptions import CursorLoopError as CursorLoopError
from ._exceptions import EventLoopError as EventLoopError
from ._exceptions import GatewayTimeoutError as GatewayTimeoutError
from ._exceptions import InternalServerError as InternalServerError
from ._exceptions import InvalidParameterError as InvalidParameterError
from ._exceptions import MissingAPIKeyError as MissingAPIKeyError
from ._exceptions import NotFoundError as NotFoundError
from ._exceptions import OutputLockedError as OutputLockedError
from ._exceptions import PermissionDeniedError as PermissionDeniedError
from ._exceptions import PostpressError as PostpressError
from ._exceptions import RateLimitError as RateLimitError
from ._exceptions import RedirectError as RedirectError
from ._exceptions import ResponseDecodeError as ResponseDecodeError
from ._exceptions import ResponseTooLargeError as ResponseTooLargeError
from ._exceptions import ServiceUnavailableError as ServiceUnavailableError
from ._exceptions import StateMismatchError as StateMismatchError
from ._exceptions import UnreadableItemError as UnreadableItemError
from ._fanout import MergedStream as MergedStream
from ._fanout import SourcePage as SourcePage
from ._fanout import merge as merge
from ._observe import RequestEvent as RequestEvent
from ._observe import ResponseEvent as ResponseEvent
from ._observe import RetryEvent as RetryEvent
from ._pagination import ListStream as ListStream
from ._poll import PollPolicy as PollPolicy
from ._positions import Checkpoint as Checkpoint
from ._positions import WatchState as WatchState
from ._sender import ClientStats as ClientStats
from ._version import __version__ as __version__
from ._watch import WatchStream as WatchStream

if TYPE_CHECKING:  # the names that moved, typed for checkers (at run time: __getattr__)
    from ._config import DEFAULT_BASE_URL as DEFAULT_BASE_URL
    from ._config import DEFAULT_RETRY_ON as DEFAULT_RETRY_ON
    from ._durable import fsync_dir as fsync_dir
    from ._durable import write_atomic as write_atomic
    from ._encoding import encode_json as encode_json
    from ._encoding import encode_json_lines as encode_json_lines
    from ._exceptions import EngineUnavailableError as EngineUnavailableError
    from ._exceptions import IngestError as IngestError
    from ._exceptions import PlanMismatchError as PlanMismatchError
    from ._exceptions import ShardConflictError as ShardConflictError
    from ._exceptions import ShardFailedError as ShardFailedError
    from ._exceptions import SinkUnavailableError as SinkUnavailableError
    from ._filelock import OutputLock as OutputLock
    from ._filelock import lock_output as lock_output
    from ._params import MAX_LIMIT as MAX_LIMIT
    from ._time import format_datetime as format_datetime
    from ._time import parse_datetime as parse_datetime
    from ._time import split_window as split_window
    from ._time import strict_windows as strict_windows
    from .models import Account as Account
    from .models import Attachment as Attachment
    from .models import Chat as Chat
    from .models import Message as Message
    from .models import Page as Page
    from .transports import AiohttpTransport as AiohttpTransport
    from .transports import MockTransport as MockTransport
    from .transports import Request as Request
    from .transports import Response as Response
    from .transports import Transport as Transport

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncPostpress",
    "AuthenticationError",
    "BadGatewayError",
    "BadRequestError",
    "Checkpoint",
    "ClientClosedError",
    "ClientStats",
    "CursorLoopError",
    "EventLoopError",
    "GatewayTimeoutError",
    "InternalServerError",
    "InvalidParameterError",
    "Limits",
    "ListStream",
    "MergedStream",
    "MissingAPIKeyError",
    "NotFoundError",
    "OutputLockedError",
    "PermissionDeniedError",
    "PollPolicy",
    "PostpressError",
    "RateLimitError",
    "RawResponse",
    "RedirectError",
    "RequestEvent",
    "ResponseDecodeError",
    "ResponseEvent",
    "ResponseTooLargeError",
    "RetryEvent",
    "RetryPolicy",
    "ServiceUnavailableError",
    "SourcePage",
    "StateMismatchError",
    "Timeout",
    "UnreadableItem",
    "UnreadableItemError",
    "WatchState",
    "WatchStream",
    "__version__",
    "merge",
    "models",
]

#: Names the root exported until 0.2 -> where they live now (``None``: an internal helper
#: made public only for the command line; it goes in 0.3). Each still works, with a
#: DeprecationWarning, for this release.
MOVED: dict[str, tuple[str, str | None]] = {
    "Account": ("postpress_async.models", "postpress_async.models"),
    "Attachment": ("postpress_async.models", "postpress_async.models"),
    "Chat": ("postpress_async.models", "postpress_async.models"),
    "Message": ("postpress_async.models", "postpress_async.models"),
    "Page": ("postpress_async.models", "postpress_async.models"),
    "AiohttpTransport": ("postpress_async.transports", "postpress_async.transports"),
    "MockTransport": ("postpress_async.transports", "postpress_async.transports"),
    "Request": ("postpress_async.transports", "postpress_async.transports"),
    "Response": ("postpress_async.transports", "postpress_async.transports"),
    "Transport": ("postpress_async.transports", "postpress_async.transports"),
    "IngestError": ("postpress_async._exceptions", "postpress_async.ingest"),
    "SinkUnavailableError": ("postpress_async._exceptions", "postpress_async.ingest"),
    "PlanMismatchError": ("postpress_async._exceptions", "postpress_async.ingest"),
    "ShardConflictError": ("postpress_async._exceptions", "postpress_async.ingest"),
    "EngineUnavailableError": (
        "postpress_async._exceptions",
        "postpress_async.ingest.engines.dask",
    ),
    "ShardFailedError": ("postpress_async._exceptions", "postpress_async.ingest.engines.dask"),
    "DEFAULT_RETRY_ON": ("postpress_async._config", "RetryPolicy().retry_on"),
    "DEFAULT_BASE_URL": ("postpress_async._config", "AsyncPostpress(...).base_url"),
    "MAX_LIMIT": ("postpress_async._params", None),
    "OutputLock": ("postpress_async._filelock", None),
    "lock_output": ("postpress_async._filelock", None),
    "write_atomic": ("postpress_async._durable", None),
    "fsync_dir": ("postpress_async._durable", None),
    "encode_json": ("postpress_async._encoding", "msgspec.json.encode, or model.to_builtins()"),
    "encode_json_lines": (
        "postpress_async._encoding",
        "msgspec.json.encode, or model.to_builtins()",
    ),
    "format_datetime": ("postpress_async._time", None),
    "parse_datetime": ("postpress_async._time", None),
    "split_window": ("postpress_async._time", None),
    "strict_windows": ("postpress_async._time", None),
}


if not TYPE_CHECKING:  # checkers see the names above; any other is their error, not Any

    def __getattr__(name: str) -> Any:
        return moved(__name__, name, MOVED)


def __dir__() -> list[str]:
    return sorted(__all__)
