"""The postpress API's behaviour as pure functions: query parameters in, status and bytes out.

Nothing here touches aiohttp, so the rules (validation, filtering, pagination, cursors)
are testable without an event loop and cheap to call at hundreds of pages a second. The
checks of each query parameter are :mod:`._query`'s, the cursors and the page cache
:mod:`._pages`', the shapes of the replies (list and error envelopes) :mod:`._replies`'.
"""

from __future__ import annotations

import bisect
import functools
import hmac
import time
import zlib
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from postpress_async.testing._dataset import Dataset
from postpress_async.testing._faults import FaultKind
from postpress_async.testing._groundtruth import RESOURCES, truth_report
from postpress_async.testing._live import LiveMessages
from postpress_async.testing._pages import (
    Ahead,
    PageCache,
    decode_cursor,
    decode_skip_cursor,
    encode_cursor,
    encode_skip_cursor,
)
from postpress_async.testing._query import (
    Invalid,
    bad,
    check_once,
    missing,
    not_an_id,
    parse_account_ids,
    parse_account_type,
    parse_limit,
    parse_nonempty,
    parse_time,
    parse_unread,
)
from postpress_async.testing._replies import (
    FAULT_DETAILS,
    Reply,
    encode,
    error_reply,
    list_page,
)

__all__ = ["Api"]


class Api:
    """The five GET endpoints over one :class:`Dataset`.

    Cursors are urlsafe base64 of ``route:position:fingerprint``, where the fingerprint
    is a CRC of the dataset and the filters. A cursor presented with different filters
    (or to another dataset or route) is refused with 400 ``errors/invalid_parameters``;
    ``limit`` may change from page to page. Under ``Dataset(cursors="offset")`` a cursor
    is an offset into the listing as it is when the next page is asked for (see
    :mod:`._pages`).

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
        self._cache = PageCache(page_cache_bytes)
        self._generation = 0
        self._ahead: tuple[int, Ahead] | None = None
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
        return error_reply(status, error_type, detail, serial=self._serial)

    def fault(self, kind: FaultKind) -> Reply:
        """The JSON error envelope of a fault that sends one."""
        error_type = kind.error_type
        assert error_type is not None, kind
        return self.error(kind.status, error_type, FAULT_DETAILS[kind])

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

    def method_not_allowed(self, method: str, path: str) -> Reply:
        """The 405 for a method other than GET or HEAD on an endpoint. The reference lists
        no 405: its ``type`` is the closest it documents, ``errors/invalid_action``."""
        detail = f"{method} is not allowed on {path}; the API answers GET (and HEAD) only."
        return self.error(405, "errors/invalid_action", detail)

    def _guard(self, handler: Callable[[], Reply]) -> Reply:
        try:
            return handler()
        except Invalid as exc:
            return self._refuse(exc)

    def _refuse(self, exc: Invalid) -> Reply:
        return self.error(exc.status, exc.error_type, exc.detail)

    # -- pages -------------------------------------------------------------------------

    def _fingerprint(self, route: str, filters: tuple[object, ...]) -> int:
        return zlib.crc32(f"{self._identity}|{route}|{filters!r}".encode())

    def _page(self, list_object: bytes, items: bytes, cursor: str | None) -> bytes:
        """A list envelope around ``items``, as this dataset's server writes it."""
        return list_page(list_object, items, cursor, quirks=self.dataset.config.quirks)

    def _cached(self, key: Hashable, render: Callable[[], bytes]) -> Reply:
        page = self._cache.get(key)
        if page is None:
            body = render()
            self._cache.put(key, body)
            return Reply(200, body)
        return Reply(200, page[0])

    @property
    def _by_offset(self) -> bool:
        """Whether cursors count items (``Dataset(cursors="offset")``) or name the last one."""
        return self.dataset.config.cursors == "offset"

    # -- endpoints ------------------------------------------------------------------------

    def accounts_list(self, query: Mapping[str, str]) -> Reply:
        """``GET /accounts``."""
        return self._guard(lambda: self._accounts_list(query))

    def _accounts_list(self, query: Mapping[str, str]) -> Reply:
        check_once(query, "accounts.list")
        limit = parse_limit(query)
        fingerprint = self._fingerprint("a", ())
        count = self.dataset.account_count
        if self._by_offset:  # the accounts never change: the same pages as by keyset
            start = min(count, decode_skip_cursor(query, "a", fingerprint) or 0)
        else:
            after = decode_cursor(query, "a", fingerprint)
            start = 0 if after is None else after + 1
            if start > count:
                raise bad("cursor is out of range.")
        end = min(count, start + limit)

        def render() -> bytes:
            items = [self.dataset.account(i) for i in range(start, end)]
            cursor = None
            if end < count and self._by_offset:
                cursor = encode_skip_cursor("a", end, fingerprint)
            elif end < count:
                cursor = encode_cursor("a", end - 1, fingerprint)
            return self._page(b"AccountList", encode(items)[1:-1], cursor)

        return self._cached(("a", start, end), render)

    def chats_list(self, query: Mapping[str, str]) -> Reply:
        """``GET /chats``."""
        return self._guard(lambda: self._chats_list(query))

    def _chats_list(self, query: Mapping[str, str]) -> Reply:
        ds = self.dataset
        check_once(query, "chats.list")
        limit = parse_limit(query)
        before = parse_time(query, "before")
        after = parse_time(query, "after")
        names = parse_account_ids(query)
        accounts: frozenset[int] | None = None
        if names is not None:
            found = (ds.find_account(name) for name in names)
            accounts = frozenset(a for a in found if a is not None)
        account_type = parse_account_type(query)
        unread = parse_unread(query)
        filters = (
            None if accounts is None else tuple(sorted(accounts)),
            account_type,
            unread,
            before,
            after,
        )
        fingerprint = self._fingerprint("c", filters)
        by_offset = self._by_offset
        skip = decode_skip_cursor(query, "c", fingerprint) if by_offset else None
        position = None if by_offset else decode_cursor(query, "c", fingerprint)
        by_creation = ds.config.chat_time == "created"
        # Under "created" the bounds are not the listing's order (last activity): every
        # rank is a candidate, and each chat's creation time is checked.
        lo, hi = (0, ds.chat_count) if by_creation else ds.chat_time_window(before, after)
        start = lo
        if position is not None:  # a keyset: chats that moved since shift no page
            after_rank = ds.chat_rank_after(position)
            if after_rank is None:
                raise bad("cursor is out of range.")
            start = max(lo, after_rank)

        def created_inside(chat: int) -> bool:
            created = ds.chat_created_ms(chat)
            assert created is not None
            return (before is None or created * 1000 < before) and (
                after is None or created * 1000 > after
            )

        def matches(chat: int) -> bool:
            if by_creation and not created_inside(chat):
                return False
            account = ds.account_of_chat(chat)
            if accounts is not None and account not in accounts:
                return False
            if account_type is not None and ds.account_type(account) != account_type:
                return False
            return unread is None or (ds.chat_unread_count(chat) > 0) == unread

        def render() -> bytes:
            picked: list[int] = []
            passed = skip or 0  # an offset: so many matching chats first
            more = False
            for rank in range(start, hi):
                chat = ds.chat_at_rank(rank)
                if not matches(chat):
                    continue
                if passed:
                    passed -= 1
                elif len(picked) == limit:
                    more = True
                    break
                else:
                    picked.append(chat)
            cursor = None
            if more and by_offset:
                cursor = encode_skip_cursor("c", (skip or 0) + limit, fingerprint)
            elif more:
                cursor = encode_cursor("c", ds.chat_position(picked[-1]), fingerprint)
            return self._page(b"ChatList", encode([ds.chat(c) for c in picked])[1:-1], cursor)

        return self._cached(("c", filters, start, skip, limit), render)

    def chat_retrieve(self, chat_id: str, query: Mapping[str, str]) -> Reply:
        """``GET /chats/{chat_id}``: a postpress id, or a provider id with ``account_id``."""
        return self._guard(lambda: self._chat_retrieve(chat_id, query))

    def _chat_retrieve(self, chat_id: str, query: Mapping[str, str]) -> Reply:
        ds = self.dataset
        if not chat_id:
            raise not_an_id("chat")
        check_once(query, "chats.retrieve")
        raw_account = parse_nonempty(query, "account_id")
        account = None if raw_account is None else ds.find_account(raw_account)
        if raw_account is not None and account is None:
            raise missing(f"No account {raw_account!r}.")
        chat = ds.find_chat(chat_id)
        if chat is not None and account is not None and ds.account_of_chat(chat) != account:
            chat = None
        if chat is None and account is not None:
            chat = ds.find_provider_chat(account, chat_id)
        if chat is None:
            hint = "" if account is not None else " (a provider chat id needs account_id)"
            raise missing(f"No chat {chat_id!r}{hint}.")
        found = chat
        return self._cached(("cr", found), lambda: encode(ds.chat_with_last_message(found)))

    def messages_list(self, query: Mapping[str, str]) -> Reply:
        """``GET /messages``."""
        return self._guard(lambda: self._messages_list(query))

    def _messages_list(self, query: Mapping[str, str]) -> Reply:
        ds = self.dataset
        check_once(query, "messages.list")
        limit = parse_limit(query)
        parse_nonempty(query, "cursor")
        before = parse_time(query, "before")
        after = parse_time(query, "after")
        raw_account = parse_nonempty(query, "account_id")
        raw_sender = parse_nonempty(query, "sender_id")
        filters = (raw_account, raw_sender, before, after)
        fingerprint = self._fingerprint("m", filters)
        if self._by_offset:
            return self._messages_by_offset(query, limit, filters, fingerprint)
        last = decode_cursor(query, "m", fingerprint)
        if last is not None and last >= ds.message_count:
            raise bad("cursor is out of range.")
        account, sender = self._message_filters(raw_account, raw_sender)

        if self.live.count:  # live pages change with the clock: never cached
            chosen, more = self.live.page(account, sender, before, after, last, limit)
            cursor = encode_cursor("m", chosen[-1], fingerprint) if more else None
            body = self._page(b"MessageList", ds.messages_json(chosen), cursor)
            return Reply(200, body)

        def render(after_index: int | None) -> tuple[bytes, Ahead | None]:
            candidates = ds.message_candidates(account, sender)
            lo, hi = ds.message_time_window(candidates, before, after)
            if after_index is not None:
                lo = max(lo, bisect.bisect_right(candidates, after_index))
            end = min(hi, lo + limit)
            chosen = candidates[lo:end]
            if end == hi:
                return self._page(b"MessageList", ds.messages_json(chosen), None), None
            last_index = chosen[-1]
            cursor = encode_cursor("m", last_index, fingerprint)
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

    def _message_filters(
        self, raw_account: str | None, raw_sender: str | None
    ) -> tuple[int | None, int | None]:
        """The account and sender indexes the filters name (404: one that is unknown)."""
        ds = self.dataset
        account = None if raw_account is None else ds.find_account(raw_account)
        if raw_account is not None and account is None:
            raise missing(f"No account {raw_account!r}.")
        sender = None if raw_sender is None else ds.find_sender(raw_sender)
        if raw_sender is not None and sender is None:
            raise missing(f"No sender {raw_sender!r}.")
        return account, sender

    def _messages_by_offset(
        self,
        query: Mapping[str, str],
        limit: int,
        filters: tuple[str | None, str | None, int | None, int | None],
        fingerprint: int,
    ) -> Reply:
        """``GET /messages`` under offset cursors: the page ``skip`` messages into the
        listing as it is now (a skip past its end: an empty last page)."""
        ds = self.dataset
        skip = decode_skip_cursor(query, "m", fingerprint) or 0
        raw_account, raw_sender, before, after = filters
        account, sender = self._message_filters(raw_account, raw_sender)

        def page(chosen: Sequence[int], more: bool) -> bytes:
            cursor = encode_skip_cursor("m", skip + len(chosen), fingerprint) if more else None
            return self._page(b"MessageList", ds.messages_json(chosen), cursor)

        if self.live.count:  # live pages change with the clock: never cached
            chosen, more = self.live.page(account, sender, before, after, None, limit, skip)
            return Reply(200, page(chosen, more))

        def render() -> bytes:
            candidates = ds.message_candidates(account, sender)
            lo, hi = ds.message_time_window(candidates, before, after)
            start = min(hi, lo + skip)
            end = min(hi, start + limit)
            return page(candidates[start:end], end < hi)

        return self._cached(("m+", account, sender, before, after, skip, limit), render)

    def message_retrieve(self, message_id: str) -> Reply:
        """``GET /messages/{message_id}``."""
        if not message_id:
            return self._refuse(not_an_id("message"))
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
            raise missing(f"No ground truth for {resource!r}; ask for {', '.join(RESOURCES)}.")
        if resource != "accounts":
            for name in ("before", "after"):
                if parse_time(query, name) is not None:
                    filters[name] = query[name]
        if resource == "messages":
            account = parse_nonempty(query, "account_id")
            if account is not None:
                if ds.find_account(account) is None:
                    raise missing(f"No account {account!r}.")
                filters["account_id"] = account
            sender = parse_nonempty(query, "sender_id")
            if sender is not None:
                if ds.find_sender(sender) is None:
                    raise missing(f"No sender {sender!r}.")
                filters["sender_id"] = sender
        elif resource == "chats":
            filters.update(
                account_id=parse_account_ids(query),
                account_type=parse_account_type(query),
                unread=parse_unread(query),
            )
        return Reply(200, encode(truth_report(ds, self.live, resource, **filters)))
