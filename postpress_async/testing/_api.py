"""The postpress API's behaviour as pure functions: query parameters in, status and bytes out.

Nothing here touches aiohttp, so the rules (validation, filtering, pagination, cursors)
are testable without an event loop and cheap to call at hundreds of pages a second.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import collections
import functools
import hmac
import re
import time
import zlib
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Final, NamedTuple

import msgspec

from postpress_async.testing._dataset import CHAT_ACCOUNT_TYPES, Dataset
from postpress_async.testing._faults import FaultKind
from postpress_async.testing._groundtruth import RESOURCES, truth_report
from postpress_async.testing._live import LiveMessages
from postpress_async.testing._time import parse_us

__all__ = ["Api", "Reply"]

MAX_LIMIT: Final = 250
DEFAULT_LIMIT: Final = 100
_DIGITS: Final = re.compile(r"[0-9]+\Z")
_TITLES: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_FAULT_DETAILS: Final = {
    FaultKind.NO_CLIENT_SESSION: "No client session is currently running.",
    FaultKind.NO_CHANNEL: "No channel to client session.",
    FaultKind.NO_HANDLER: "Handler missing for that request.",
    FaultKind.NETWORK_DOWN: "Network is down on the server side. Retry shortly.",
    FaultKind.SERVICE_UNAVAILABLE: "Service temporarily unavailable. Retry later.",
    FaultKind.REQUEST_TIMEOUT: "Request timed out. Retry, and contact support if it persists.",
    FaultKind.PROVIDER_ERROR: "The provider is experiencing operational problems. Retry later.",
    FaultKind.RATE_LIMITED: "Too many requests. Retry after the delay in Retry-After.",
}
BAD_GATEWAY_HTML: Final = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_encode = msgspec.json.Encoder().encode


class Reply(NamedTuple):
    """A JSON answer: HTTP status and body bytes."""

    status: int
    body: bytes


class _Invalid(Exception):
    """A request the API refuses; carries the error envelope's fields."""

    def __init__(self, status: int, error_type: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error_type = error_type
        self.detail = detail


def _bad(detail: str) -> _Invalid:
    return _Invalid(400, "errors/invalid_parameters", detail)


def _not_found(detail: str) -> _Invalid:
    return _Invalid(404, "errors/resource_not_found", detail)


_Ahead = Callable[[], None]
"""Renders the next page of a listing into the page cache (see :meth:`Api.render_ahead`)."""


class _PageCache:
    """A byte-bounded LRU of rendered pages, so re-walking a listing costs a dict hit.

    Each page is kept with what renders the page after it, if there is one.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._pages: collections.OrderedDict[Hashable, tuple[bytes, _Ahead | None]] = (
            collections.OrderedDict()
        )

    def get(self, key: Hashable) -> tuple[bytes, _Ahead | None] | None:
        page = self._pages.get(key)
        if page is not None:
            self._pages.move_to_end(key)
        return page

    def __contains__(self, key: Hashable) -> bool:
        return key in self._pages

    def clear(self) -> None:
        self._pages.clear()
        self.size = 0

    def put(self, key: Hashable, body: bytes, ahead: _Ahead | None = None) -> None:
        if len(body) > self.max_bytes:
            return
        old = self._pages.pop(key, None)
        if old is not None:
            self.size -= len(old[0])
        self._pages[key] = (body, ahead)
        self.size += len(body)
        while self.size > self.max_bytes:
            _, (dropped, _) = self._pages.popitem(last=False)
            self.size -= len(dropped)


class Api:
    """The five GET endpoints over one :class:`Dataset`.

    Cursors are urlsafe base64 of ``route:position:fingerprint``, where the fingerprint
    is a CRC of the dataset and the filters. A cursor presented with different filters
    (or to another dataset or route) is refused with 400 ``errors/invalid_parameters``;
    ``limit`` may change from page to page.

    ``clock`` is the server's notion of now (seconds since the epoch, as ``time.time``):
    what stamps and lists the messages added while serving.
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        api_key: str,
        page_cache_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.dataset = dataset
        self.clock = clock
        self.api_key = api_key
        self._key_bytes = api_key.encode()
        self._cache = _PageCache(page_cache_bytes)
        self._generation = 0
        self._ahead: tuple[int, _Ahead] | None = None
        self._serial = 0
        self._identity = repr(dataset)
        #: Messages added while serving (see ``testing._live``); listings merge them in.
        self.live = LiveMessages(dataset, clock=clock, on_add=self.forget_pages)

    def serve(self, dataset: Dataset) -> None:
        """Serve ``dataset`` from now on (an equal one: cursors stay valid)."""
        self.dataset = dataset
        self.live = LiveMessages(dataset, clock=self.clock, on_add=self.forget_pages)
        self.forget_pages()

    def forget_pages(self) -> None:
        """Drop every rendered page (the data changed under them)."""
        self._cache.clear()
        self._generation += 1
        self._ahead = None

    @property
    def ahead_pending(self) -> bool:
        """Whether :meth:`render_ahead` has a page to render."""
        return self._ahead is not None

    def render_ahead(self) -> None:
        """Render the page a client walking a listing asks for next, into the page cache.

        The last listing answered (:meth:`messages_list`) leaves the page after it to
        render; the server calls this once its answer is sent, so the next page is ready
        while the client reads this one. It is the same rendering as on demand (same
        bytes), it is skipped when the data changed since (a live message, another
        dataset), when pages are not cached, or when the page is already cached; one
        page at most per page served.
        """
        pending, self._ahead = self._ahead, None
        if pending is not None and pending[0] == self._generation and not self.live.count:
            pending[1]()

    # -- envelopes ------------------------------------------------------------------------

    def error(self, status: int, error_type: str, detail: str) -> Reply:
        """An error envelope, ``{"title", "detail", "instance", "type", "status"}``."""
        self._serial += 1
        envelope = {
            "title": _TITLES.get(status, "Error"),
            "detail": detail,
            "instance": f"req_{self._serial:08d}",
            "type": error_type,
            "status": status,
        }
        return Reply(status, _encode(envelope))

    def fault(self, kind: FaultKind) -> Reply:
        """The JSON error envelope of a fault that sends one."""
        error_type = kind.error_type
        assert error_type is not None, kind
        return self.error(kind.status, error_type, _FAULT_DETAILS[kind])

    def authenticate(self, key: str | None) -> Reply | None:
        """``None`` when the ``X-API-KEY`` value is right, else the 401 to send."""
        if not key:
            return self.error(
                401, "errors/missing_credentials", "Send your API key in the X-API-KEY header."
            )
        if not hmac.compare_digest(key.encode(), self._key_bytes):
            return self.error(401, "errors/invalid_credentials", "The API key is invalid.")
        return None

    def not_found(self, path: str) -> Reply:
        """The 404 for a path that is no endpoint."""
        return self.error(404, "errors/resource_not_found", f"No endpoint at {path}.")

    def _guard(self, handler: Callable[[], Reply]) -> Reply:
        try:
            return handler()
        except _Invalid as exc:
            return self.error(exc.status, exc.error_type, exc.detail)

    # -- parameters -----------------------------------------------------------------------

    @staticmethod
    def _limit(query: Mapping[str, str]) -> int:
        raw = query.get("limit")
        if raw is None:
            return DEFAULT_LIMIT
        if not _DIGITS.match(raw) or int(raw) < 1:
            raise _bad(f"limit must be an integer between 1 and {MAX_LIMIT}, got {raw!r}.")
        value = int(raw)
        if value > MAX_LIMIT:
            raise _Invalid(
                400,
                "errors/limit_too_high",
                f"Provider cannot accept such high pagination limit (max {MAX_LIMIT}).",
            )
        return value

    @staticmethod
    def _datetime(query: Mapping[str, str], name: str) -> int | None:
        raw = query.get(name)
        if raw is None:
            return None
        value = parse_us(raw)
        if value is None:
            raise _bad(f"{name} must be an ISO 8601 UTC datetime (YYYY-MM-DDTHH:MM:SS.sssZ).")
        return value

    @staticmethod
    def _nonempty(query: Mapping[str, str], name: str) -> str | None:
        raw = query.get(name)
        if raw is not None and not raw:
            raise _bad(f"{name} must not be empty.")
        return raw

    @classmethod
    def _account_ids(cls, query: Mapping[str, str]) -> list[str] | None:
        """Chats' ``account_id``: a comma-separated list of at least one id."""
        raw = cls._nonempty(query, "account_id")
        if raw is None:
            return None
        names = [part for part in raw.split(",") if part]
        if not names:
            raise _bad("account_id must name at least one account.")
        return names

    @staticmethod
    def _account_type(query: Mapping[str, str]) -> str | None:
        account_type = query.get("account_type")
        if account_type is not None and account_type not in CHAT_ACCOUNT_TYPES:
            allowed = ", ".join(sorted(CHAT_ACCOUNT_TYPES))
            raise _bad(f"account_type must be one of {allowed}.")
        return account_type

    @staticmethod
    def _unread(query: Mapping[str, str]) -> bool | None:
        raw = query.get("unread")
        if raw is None:
            return None
        lowered = raw.lower()
        if lowered not in ("true", "false"):
            raise _bad("unread must be true or false.")
        return lowered == "true"

    def _fingerprint(self, route: str, filters: tuple[object, ...]) -> int:
        return zlib.crc32(f"{self._identity}|{route}|{filters!r}".encode())

    @staticmethod
    def _encode_cursor(route: str, position: int, fingerprint: int) -> str:
        raw = f"{route}:{position}:{fingerprint:08x}".encode()
        return base64.urlsafe_b64encode(raw).decode()

    def _decode_cursor(self, query: Mapping[str, str], route: str, fingerprint: int) -> int | None:
        raw = query.get("cursor")
        if raw is None:
            return None
        try:
            text = base64.b64decode(raw.encode(), altchars=b"-_", validate=True).decode()
            name, position, mark = text.split(":")
            ok = name == route and _DIGITS.match(position) is not None and len(mark) == 8
            ok = ok and int(mark, 16) == fingerprint
        except (binascii.Error, UnicodeError, ValueError):
            ok = False
        if not ok:
            raise _bad(
                "cursor is invalid, or was issued for another listing or other filters; "
                "send the same filters as on the first page."
            )
        return int(position)

    def _page(self, list_object: bytes, items: bytes, cursor: str | None) -> bytes:
        """A list envelope around ``items`` (encoded objects joined by commas).

        The last page has ``"cursor": null``; with quirks, no ``cursor`` key at all.
        """
        if cursor is not None:
            tail = b'],"cursor":' + _encode(cursor) + b"}"
        else:
            tail = b"]}" if self.dataset.config.quirks else b'],"cursor":null}'
        return b"".join((b'{"object":"', list_object, b'","items":[', items, tail))

    def _cached(self, key: Hashable, render: Callable[[], bytes]) -> Reply:
        page = self._cache.get(key)
        if page is None:
            body = render()
            self._cache.put(key, body)
            return Reply(200, body)
        return Reply(200, page[0])

    # -- endpoints ------------------------------------------------------------------------

    def accounts_list(self, query: Mapping[str, str]) -> Reply:
        """``GET /accounts``."""
        return self._guard(lambda: self._accounts_list(query))

    def _accounts_list(self, query: Mapping[str, str]) -> Reply:
        limit = self._limit(query)
        fingerprint = self._fingerprint("a", ())
        after = self._decode_cursor(query, "a", fingerprint)
        start = 0 if after is None else after + 1
        count = self.dataset.account_count
        if start > count:
            raise _bad("cursor is out of range.")
        end = min(count, start + limit)

        def render() -> bytes:
            items = [self.dataset.account(i) for i in range(start, end)]
            cursor = self._encode_cursor("a", end - 1, fingerprint) if end < count else None
            return self._page(b"AccountList", _encode(items)[1:-1], cursor)

        return self._cached(("a", start, end), render)

    def chats_list(self, query: Mapping[str, str]) -> Reply:
        """``GET /chats``."""
        return self._guard(lambda: self._chats_list(query))

    def _chats_list(self, query: Mapping[str, str]) -> Reply:
        ds = self.dataset
        limit = self._limit(query)
        before = self._datetime(query, "before")
        after = self._datetime(query, "after")
        names = self._account_ids(query)
        accounts: frozenset[int] | None = None
        if names is not None:
            found = (ds.find_account(name) for name in names)
            accounts = frozenset(a for a in found if a is not None)
        account_type = self._account_type(query)
        unread = self._unread(query)
        filters = (
            None if accounts is None else tuple(sorted(accounts)),
            account_type,
            unread,
            before,
            after,
        )
        fingerprint = self._fingerprint("c", filters)
        last_rank = self._decode_cursor(query, "c", fingerprint)
        lo, hi = ds.chat_time_window(before, after)
        start = lo if last_rank is None else max(lo, last_rank + 1)
        if last_rank is not None and last_rank >= ds.chat_count:
            raise _bad("cursor is out of range.")

        def matches(chat: int) -> bool:
            account = ds.account_of_chat(chat)
            if accounts is not None and account not in accounts:
                return False
            if account_type is not None and ds.account_type(account) != account_type:
                return False
            return unread is None or (ds.chat_unread_count(chat) > 0) == unread

        def render() -> bytes:
            picked: list[int] = []
            more = False
            for rank in range(start, hi):
                chat = ds.chat_at_rank(rank)
                if matches(chat):
                    if len(picked) == limit:
                        more = True
                        break
                    picked.append(chat)
            cursor = (
                self._encode_cursor("c", ds.chat_rank(picked[-1]), fingerprint) if more else None
            )
            return self._page(b"ChatList", _encode([ds.chat(c) for c in picked])[1:-1], cursor)

        return self._cached(("c", filters, start, limit), render)

    def chat_retrieve(self, chat_id: str, query: Mapping[str, str]) -> Reply:
        """``GET /chats/{chat_id}``: a postpress id, or a provider id with ``account_id``."""
        return self._guard(lambda: self._chat_retrieve(chat_id, query))

    def _chat_retrieve(self, chat_id: str, query: Mapping[str, str]) -> Reply:
        ds = self.dataset
        raw_account = self._nonempty(query, "account_id")
        account = None if raw_account is None else ds.find_account(raw_account)
        if raw_account is not None and account is None:
            raise _not_found(f"No account {raw_account!r}.")
        chat = ds.find_chat(chat_id)
        if chat is not None and account is not None and ds.account_of_chat(chat) != account:
            chat = None
        if chat is None and account is not None:
            chat = ds.find_provider_chat(account, chat_id)
        if chat is None:
            hint = "" if account is not None else " (a provider chat id needs account_id)"
            raise _not_found(f"No chat {chat_id!r}{hint}.")
        found = chat
        return self._cached(("cr", found), lambda: _encode(ds.chat_with_last_message(found)))

    def messages_list(self, query: Mapping[str, str]) -> Reply:
        """``GET /messages``."""
        return self._guard(lambda: self._messages_list(query))

    def _messages_list(self, query: Mapping[str, str]) -> Reply:
        ds = self.dataset
        limit = self._limit(query)
        self._nonempty(query, "cursor")
        before = self._datetime(query, "before")
        after = self._datetime(query, "after")
        raw_account = self._nonempty(query, "account_id")
        raw_sender = self._nonempty(query, "sender_id")
        filters = (raw_account, raw_sender, before, after)
        fingerprint = self._fingerprint("m", filters)
        last = self._decode_cursor(query, "m", fingerprint)
        if last is not None and last >= ds.message_count:
            raise _bad("cursor is out of range.")
        account = None if raw_account is None else ds.find_account(raw_account)
        if raw_account is not None and account is None:
            raise _not_found(f"No account {raw_account!r}.")
        sender = None if raw_sender is None else ds.find_sender(raw_sender)
        if raw_sender is not None and sender is None:
            raise _not_found(f"No sender {raw_sender!r}.")

        if self.live.count:  # live pages change with the clock: never cached
            chosen, more = self.live.page(account, sender, before, after, last, limit)
            cursor = self._encode_cursor("m", chosen[-1], fingerprint) if more else None
            body = self._page(b"MessageList", ds.messages_json(chosen), cursor)
            return Reply(200, body)

        def render(after_index: int | None) -> tuple[bytes, _Ahead | None]:
            candidates = ds.message_candidates(account, sender)
            lo, hi = ds.message_time_window(candidates, before, after)
            if after_index is not None:
                lo = max(lo, bisect.bisect_right(candidates, after_index))
            end = min(hi, lo + limit)
            chosen = candidates[lo:end]
            if end == hi:
                return self._page(b"MessageList", ds.messages_json(chosen), None), None
            last_index = chosen[-1]
            cursor = self._encode_cursor("m", last_index, fingerprint)
            body = self._page(b"MessageList", ds.messages_json(chosen), cursor)
            return body, functools.partial(ahead, last_index)

        def ahead(after_index: int) -> None:
            key = ("m", account, sender, before, after, after_index, limit)
            if self._cache.max_bytes and key not in self._cache:
                self._cache.put(key, *render(after_index))

        key = ("m", account, sender, before, after, last, limit)
        page = self._cache.get(key)
        if page is None:
            page = render(last)
            self._cache.put(key, *page)
        body, next_page = page
        if next_page is not None:
            self._ahead = (self._generation, next_page)
        return Reply(200, body)

    def message_retrieve(self, message_id: str) -> Reply:
        """``GET /messages/{message_id}``."""
        index = self.dataset.find_message(message_id)
        if index is None:
            return self.error(404, "errors/resource_not_found", f"No message {message_id!r}.")
        return Reply(200, self.dataset.message_json(index))

    # -- ground truth (not an API route: see ``_groundtruth``) ----------------------------

    def truth(self, resource: str, query: Mapping[str, str]) -> Reply:
        """``GET /_fake/truth/{resource}``: what a complete listing returns right now.

        Takes the list endpoint's filters with its validation (a malformed value: 400;
        on messages an unknown ``account_id`` or ``sender_id``: 404, as the listing);
        ``limit``, ``cursor`` and unknown parameters are ignored.
        """
        return self._guard(lambda: self._truth(resource, query))

    def _truth(self, resource: str, query: Mapping[str, str]) -> Reply:
        ds = self.dataset
        filters: dict[str, Any] = {}
        if resource not in RESOURCES:
            raise _not_found(f"No ground truth for {resource!r}; ask for {', '.join(RESOURCES)}.")
        if resource != "accounts":
            for name in ("before", "after"):
                if self._datetime(query, name) is not None:
                    filters[name] = query[name]
        if resource == "messages":
            account = self._nonempty(query, "account_id")
            if account is not None:
                if ds.find_account(account) is None:
                    raise _not_found(f"No account {account!r}.")
                filters["account_id"] = account
            sender = self._nonempty(query, "sender_id")
            if sender is not None:
                if ds.find_sender(sender) is None:
                    raise _not_found(f"No sender {sender!r}.")
                filters["sender_id"] = sender
        elif resource == "chats":
            filters.update(
                account_id=self._account_ids(query),
                account_type=self._account_type(query),
                unread=self._unread(query),
            )
        return Reply(200, _encode(truth_report(ds, self.live, resource, **filters)))
