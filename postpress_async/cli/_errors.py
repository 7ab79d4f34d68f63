"""Exit codes, and one clear line for every error a person can meet.

:func:`describe` is pure: it maps an exception to ``(exit code, message)`` and never
does I/O, so each case is tested without running a command.
"""

from __future__ import annotations

import enum
from typing import Final

from postpress_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    CursorLoopError,
    InvalidParameterError,
    MissingAPIKeyError,
    NotFoundError,
    OutputLockedError,
    PermissionDeniedError,
    PostpressError,
    RateLimitError,
    ResponseDecodeError,
    StateMismatchError,
    UnreadableItemError,
)
from postpress_async._config import CREDENTIALS_IN_URL
from postpress_async._exceptions import (
    EngineUnavailableError,
    PlanMismatchError,
    SinkFailedError,
    SinkUnavailableError,
)
from postpress_async._status_errors import DOCUMENTED_ERROR_TYPES, not_the_api
from postpress_async._words import clipped

__all__ = [
    "CommandError",
    "ExitCode",
    "OutputError",
    "UsageError",
    "describe",
    "exit_codes_help",
    "option_name",
    "reason_of",
]


class ExitCode(enum.IntEnum):
    """What ``postpress`` exits with."""

    OK = 0
    #: The API answered with an error (other than auth), the store failed while writing,
    #: the output (rows, a report, a summary) could not be written (a full disk under
    #: ``>`` or ``2>``), or a command's own check failed (verify's comparison, the demo's
    #: verdict).
    API_ERROR = 1
    #: A bad command line or option value, or an export that refuses to run as asked.
    USAGE = 2
    #: No API key, or the API rejected it or the connected account's credentials (401),
    #: or refused access (403).
    AUTH = 3
    #: The API, the store (a database server) or the Dask scheduler could not be reached:
    #: connection refused, DNS, timeouts. Worth trying again later.
    NETWORK = 4
    #: Another export or follow is writing the same store (it holds the store's lock).
    LOCKED = 5
    #: Stopped by Ctrl-C (SIGINT).
    INTERRUPTED = 130
    #: Stopped by SIGTERM (``docker stop``, systemd, ``kill``): as cleanly as by Ctrl-C.
    TERMINATED = 143


#: What each exit code says, in a few words: the one source of ``--help``'s list.
_MEANINGS: Final = {
    ExitCode.OK: "ok",
    ExitCode.API_ERROR: "API error (or a failed store or output, or differences found by verify)",
    ExitCode.USAGE: "bad usage or input",
    ExitCode.AUTH: "no or rejected API key (or connected account)",
    ExitCode.NETWORK: "network failure (the API, the store or the scheduler)",
    ExitCode.LOCKED: "another export or follow is writing the same store",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
    ExitCode.TERMINATED: "stopped by SIGTERM",
}


def exit_codes_help() -> str:
    """The exit codes as ``--help`` lists them, from :class:`ExitCode` (a test keeps them equal)."""
    listed = ", ".join(f"{int(code)} {_MEANINGS[code]}" for code in ExitCode)
    return f"exit codes: {listed}.\n"


class UsageError(Exception):
    """A command line the CLI refuses, with the message to show (exit code 2)."""


class CommandError(Exception):
    """A command that ran to its end and failed, with the message to show (exit code 1)."""


class OutputError(CommandError):
    """A command whose work is done, and whose closing words (an export's summary) could
    not be written: exit 1, and no resume hint (nothing is left to continue)."""


#: SDK parameter names -> the option a person typed.
_OPTIONS: Final = {
    "api_key": "--api-key",
    "base_url": "--base-url",
    "timeout": "--timeout",
    "timeout.total": "--timeout",
    "retry.attempts": "--retries",
    "policy.interval": "--poll-interval",
    "policy.max_interval": "--max-interval",
    "policy.overlap": "--overlap",
    "chat_id": "chat ID",
    "message_id": "message ID",
}


def option_name(param: str) -> str:
    """``account_id`` -> ``--account-id``: the SDK's parameter as the option that sets it.

    An environment variable (``POSTPRESS_BASE_URL``, ``POSTPRESS_LOG``) is named as it is set.
    """
    if param.isupper():
        return param
    return _OPTIONS.get(param, "--" + param.replace("_", "-"))


def describe(exc: BaseException) -> tuple[ExitCode, str]:
    """The exit code and the one-line message (without ``error:``) for an exception."""
    if isinstance(exc, UsageError):
        return ExitCode.USAGE, str(exc)
    if isinstance(exc, CommandError):
        return ExitCode.API_ERROR, str(exc)
    if isinstance(exc, StateMismatchError):
        return (
            ExitCode.USAGE,
            f"the saved position belongs to another watch or export ({reason_of(exc)}): "
            "give the same resource and filters, or another --state / store",
        )
    if isinstance(exc, InvalidParameterError):
        said = reason_of(exc)
        if said.startswith(CREDENTIALS_IN_URL):  # the SDK's advice is Python's
            said = (
                f"{CREDENTIALS_IN_URL}: give the URL without them; the API key goes in "
                "--api-key or POSTPRESS_API_KEY"
            )
        return ExitCode.USAGE, f"{option_name(exc.param)}: {said}"
    if isinstance(exc, MissingAPIKeyError):
        return ExitCode.AUTH, "no API key: pass --api-key or set POSTPRESS_API_KEY (or try --fake)"
    if isinstance(exc, APIStatusError):
        return _status(exc)
    if isinstance(exc, APITimeoutError):
        return (
            ExitCode.NETWORK,
            f"the API did not answer in time ({exc.method} {_origin(exc.url)}): "
            "try again, or raise --timeout",
        )
    if isinstance(exc, APIConnectionError):
        return (
            ExitCode.NETWORK,
            f"cannot reach the API at {_origin(exc.url)} ({_cause(exc)}): "
            "check --base-url (or POSTPRESS_BASE_URL) and your network",
        )
    if isinstance(exc, OutputLockedError):
        return (
            ExitCode.LOCKED,
            f"another export or follow is writing {exc.path}: wait for it to finish, "
            "or stop it first",
        )
    if isinstance(exc, CursorLoopError):
        return (
            ExitCode.API_ERROR,
            f"the API sent {exc.pages} pages in a row with a new cursor and no new item; "
            "stopped instead of paging for ever"
            if exc.pages
            else f"the API sent the cursor {_short(exc.cursor)!r} a second time in one "
            "listing; stopped instead of fetching the same pages again",
        )
    if isinstance(exc, UnreadableItemError):
        return (
            ExitCode.API_ERROR,
            f"the API sent items this SDK cannot read: {exc} (an export or watch into a "
            f"store keeps them aside as rejects and goes on){_past(exc)}",
        )
    if isinstance(exc, ResponseDecodeError):
        return ExitCode.API_ERROR, f"the API sent a response this SDK cannot read: {exc}"
    if isinstance(exc, SinkFailedError):
        return ExitCode.API_ERROR, _one_line(str(exc))
    if isinstance(exc, (SinkUnavailableError, EngineUnavailableError)) and exc.unreachable:
        return ExitCode.NETWORK, str(exc)  # a store or scheduler down: try again later
    if isinstance(exc, (SinkUnavailableError, EngineUnavailableError, PlanMismatchError)):
        return ExitCode.USAGE, str(exc)
    if isinstance(exc, PostpressError):
        return ExitCode.API_ERROR, str(exc)
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return ExitCode.API_ERROR, f"cannot write{where}: {exc.strerror or exc}"
    return ExitCode.API_ERROR, f"unexpected {type(exc).__name__}: {exc} (rerun with --debug)"


def _status(exc: APIStatusError) -> tuple[ExitCode, str]:
    what = f"{exc.status} {clipped(exc.type)}" if exc.type else str(exc.status)
    said = exc.detail or exc.title
    reason = f"{what}: {clipped(said)}" if said else what
    suffix = _budget(exc)
    if isinstance(exc, AuthenticationError):
        if exc.type in _ACCOUNT_401_TYPES:
            return (
                ExitCode.AUTH,
                f"the API refused the connected account's credentials ({reason}): "
                "reconnect the account (a new API key will not help)",
            )
        return (
            ExitCode.AUTH,
            f"the API rejected the API key ({reason}): check --api-key or POSTPRESS_API_KEY",
        )
    if isinstance(exc, PermissionDeniedError):
        if exc.type in _PLAN_403_TYPES:
            return (
                ExitCode.AUTH,
                f"the postpress subscription does not include this ({reason}): "
                "subscribe to the feature (a new API key will not help)",
            )
        if exc.type in _ACCOUNT_403_TYPES:
            return (
                ExitCode.AUTH,
                f"the connected account may not do that ({reason}): check the account "
                "with its provider (a new API key will not help)",
            )
        return ExitCode.AUTH, f"this API key may not do that ({reason})"
    if isinstance(exc, NotFoundError):
        if _wrong_base_url(exc):
            return (
                ExitCode.API_ERROR,
                f"not found ({reason}) {not_the_api(_origin(exc.url), '--base-url')}",
            )
        if not _names_an_id(exc):
            return (
                ExitCode.API_ERROR,
                f"not found ({reason}) at {_origin(exc.url)}: check --base-url "
                "(or POSTPRESS_BASE_URL); the request named no id",
            )
        return ExitCode.API_ERROR, f"not found ({reason}): check the ids you passed"
    if isinstance(exc, RateLimitError):
        return ExitCode.API_ERROR, f"rate limited by the API ({reason}){suffix}: try again later"
    if exc.status >= 500:
        return ExitCode.API_ERROR, f"the API failed ({reason}){suffix}: try again later"
    return ExitCode.API_ERROR, f"the API refused the request ({reason})"


#: The documented 401 types about the connected (LinkedIn, mail, ...) account, not the API
#: key: expired or disconnected, a checkpoint to solve, proxy or IMAP settings. The
#: reference's key types are missing, invalid and out-of-scope credentials; a 401 of
#: another or no type blames the key, as before.
_ACCOUNT_401_TYPES: Final = DOCUMENTED_ERROR_TYPES[401] - {
    "errors/missing_credentials",
    "errors/invalid_credentials",
    "errors/insufficient_privileges",
}


#: The documented 403 types about the plan: a subscription or a feature not subscribed.
_PLAN_403_TYPES: Final = frozenset(
    {"errors/subscription_required", "errors/feature_not_subscribed"}
)
#: The documented 403 types about the connected account: restricted by its provider, not
#: the account (or session) the action needs, a login step to finish. The reference's key
#: types are insufficient permissions and a resource the key may not reach; a 403 of
#: another or no type blames the key, as before.
_ACCOUNT_403_TYPES: Final = (
    DOCUMENTED_ERROR_TYPES[403]
    - _PLAN_403_TYPES
    - {"errors/insufficient_permissions", "errors/resource_access_restricted"}
)


def _wrong_base_url(exc: NotFoundError) -> bool:
    """A 404 without the API's error envelope: whatever answered is not the postpress API.

    A 404 that carries the envelope (``errors/resource_not_found``, "No account
    'chat_...'") is the API saying an id matches nothing, on a list endpoint too (an
    unknown ``--account-id``): the base URL is right, the id is not.
    """
    return exc.type is None


#: The query parameters of a listing that name an id (a 404 may be about them).
_ID_FILTERS: Final = ("account_id", "sender_id")


def _names_an_id(exc: NotFoundError) -> bool:
    """Whether the request named an id: a retrieve, or a listing filtered by an id.

    A listing that names none (``messages list`` under a base URL missing its ``/api/v1``)
    has no id to blame, whatever envelope the 404 carries.
    """
    if not exc.endpoint.endswith(".list"):
        return True
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(exc.url).query)
    return any(name in query for name in _ID_FILTERS)


def reason_of(exc: InvalidParameterError) -> str:
    """What the SDK said of a parameter, without its name (the CLI names the option)."""
    text = str(exc)
    prefix = f"{exc.param}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def _past(exc: UnreadableItemError) -> str:
    """Where a listing goes on past the page that held them: the next page's cursor."""
    cursor = exc.resume_cursor
    if cursor is None or exc.checkpoint is None or exc.checkpoint.offset:
        return ""
    return f"; the listing goes on past them with --cursor {cursor}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _budget(exc: PostpressError) -> str:
    if exc.retry_budget_exhausted:
        return ", not retried: the retry budget is spent"
    if exc.attempts > 1:
        return f", after {exc.attempts} attempts"
    return ""


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _origin(url: str) -> str:
    return url.split("?", 1)[0]


def _cause(exc: APIConnectionError) -> str:
    text = str(exc.args[0]) if exc.args else str(exc)
    marker = f" ({exc.method} {exc.url})"
    if text.endswith(marker):
        text = text[: -len(marker)]
    return text
