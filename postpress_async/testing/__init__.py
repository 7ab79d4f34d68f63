"""A fake postpress server for tests, benchmarks and demos: ``postpress_async.testing``.

::

    from postpress_async.testing import Dataset, FakePostpress, FaultKind, Faults

    async with FakePostpress(dataset=Dataset(seed=1, messages=10_000)) as server:
        ...  # point the SDK at server.url with server.api_key

What it serves, and the choices the API reference leaves open:

* all five GET endpoints under both ``/api/v1`` and ``/v1``: ``/accounts``, ``/chats``,
  ``/chats/{chat_id}``, ``/messages``, ``/messages/{message_id}``; ids are matched after
  percent-decoding, so an id containing ``/ ? # = :`` works when sent percent-encoded;
* auth by ``X-API-KEY`` (401 ``errors/missing_credentials`` / ``errors/invalid_credentials``);
* ``limit`` 1..250, default 100 (above 250: 400 ``errors/limit_too_high``; not an integer or
  below 1: 400 ``errors/invalid_parameters``); a bad datetime, ``account_type``,
  ``unread`` (``true``/``false``, any case) or cursor: 400 ``errors/invalid_parameters``;
  an unknown id: 404 ``errors/resource_not_found``. On ``/messages`` an unknown
  ``account_id`` or ``sender_id`` is a 404 (as documented there); on ``/chats`` unknown
  account ids simply match nothing. Unknown query parameters are ignored;
* orders: messages newest ``timestamp`` first, ties by ``id`` ascending; chats newest last
  activity (``timestamp``) first, ties by ``id``, chats without messages (``timestamp:
  null``) last; accounts newest ``created_at`` first;
* ``before``/``after`` are strict bounds on ``timestamp`` (for chats, the last activity;
  chats with a ``null`` timestamp never match a time bound);
* cursors are opaque, encode the position after the last item returned plus a fingerprint
  of the dataset and filters, and are ``null`` on the last page. **A cursor sent with
  different filters is refused** (400 ``errors/invalid_parameters``): silently ignoring
  the change would hand out a page of another listing. ``limit`` may change between pages;
* a chat's provider id resolves on ``/chats/{chat_id}`` only together with its
  ``account_id``; a postpress chat id with the ``account_id`` of another account is a 404;
* the list of chats has no ``lastMessage``; retrieving a chat adds it (``null`` when the
  chat has no message);
* messages can arrive while it runs (``server.add_messages(...)``, or ``live=LiveFeed(...)``:
  a steady feed with bursts in one millisecond and a share listed late); listings,
  filters, cursors, retrieve and the ground truth see them; chats' activity follows;
* ``Dataset(bad_records=True)`` (``--bad-records``) serves seven messages, at fixed places
  (``Dataset.bad_messages()``), with the bad bytes the real API sometimes sends: a text
  ending in a lone high surrogate escape (``"Party time \\ud83d"``), one with a lone low
  surrogate, one with ``\\u0000``; a number for ``timestamp``, ``"id": 42``; ``null`` and
  ``"oops"`` instead of an object. In lists and on retrieve alike; ``Dataset.message_json``
  is exactly an item's slice of its page; page sizes and cursors are unchanged;
* ground truth over HTTP, to check a sync against a fake in another process:
  ``GET {root}/_fake/truth/{messages|chats|accounts}`` (outside the API prefixes;
  ``X-API-KEY`` as the API; the list endpoint's filters and their validation; never
  delayed, faulted or counted in :class:`Stats`) answers ``{"object": "Truth",
  "resource": ..., "count": N, "ids": [...], "repaired": [...], "nul": [...],
  "unreadable": [...]}``: the ids a complete listing returns right now, in listing order
  (live messages once listed, not the late ones whose time has not come), readable items
  only; ``repaired``: those whose lone surrogate escapes a reader turns into U+FFFD,
  ``nul``: those with a ``\\u0000`` in their text, ``unreadable``: the other bad records
  listed, each ``{"position", "index", "id", "kind", "raw"}`` (``raw``: its exact bytes).
  In process: ``server.truth("messages", after=...)`` (the ids) and
  ``server.truth_report(...)`` (the document). Computed by brute force over the dataset
  (about 7 µs a message), independent of the indexes the listings page through;
* a 429 (a fault, not documented by the API) carries ``Retry-After`` in whole seconds and an
  ``errors/too_many_requests`` envelope.

Presets: :func:`fake_server` (with :func:`fake_dataset` and :func:`fake_faults`) builds the
server the command line's ``--fake`` options describe, and :func:`fake_identity` names its
dataset (what an export records as its source). Equal options give equal bytes and
cursors, so a run against a restarted fake resumes like one against the real API.
"""

from postpress_async.testing._dataset import ACCOUNT_TYPES as ACCOUNT_TYPES
from postpress_async.testing._dataset import CHAT_ACCOUNT_TYPES as CHAT_ACCOUNT_TYPES
from postpress_async.testing._dataset import AccountRow as AccountRow
from postpress_async.testing._dataset import BadRecord as BadRecord
from postpress_async.testing._dataset import ChatRow as ChatRow
from postpress_async.testing._dataset import Dataset as Dataset
from postpress_async.testing._dataset import DatasetConfig as DatasetConfig
from postpress_async.testing._dataset import MessageRow as MessageRow
from postpress_async.testing._faults import ROUTES as ROUTES
from postpress_async.testing._faults import FaultKind as FaultKind
from postpress_async.testing._faults import FaultPlan as FaultPlan
from postpress_async.testing._faults import Faults as Faults
from postpress_async.testing._faults import RouteName as RouteName
from postpress_async.testing._faults import retryable_rates as retryable_rates
from postpress_async.testing._live import LiveFeed as LiveFeed
from postpress_async.testing._presets import fake_dataset as fake_dataset
from postpress_async.testing._presets import fake_faults as fake_faults
from postpress_async.testing._presets import fake_identity as fake_identity
from postpress_async.testing._presets import fake_server as fake_server
from postpress_async.testing._query import MAX_LIMIT as MAX_LIMIT
from postpress_async.testing._routes import PREFIXES as PREFIXES
from postpress_async.testing._server import DEFAULT_API_KEY as DEFAULT_API_KEY
from postpress_async.testing._server import FakePostpress as FakePostpress
from postpress_async.testing._stats import Stats as Stats

__all__ = [
    "ACCOUNT_TYPES",
    "CHAT_ACCOUNT_TYPES",
    "DEFAULT_API_KEY",
    "MAX_LIMIT",
    "PREFIXES",
    "ROUTES",
    "AccountRow",
    "BadRecord",
    "ChatRow",
    "Dataset",
    "DatasetConfig",
    "FakePostpress",
    "FaultKind",
    "FaultPlan",
    "Faults",
    "LiveFeed",
    "MessageRow",
    "RouteName",
    "Stats",
    "fake_dataset",
    "fake_faults",
    "fake_identity",
    "fake_server",
    "retryable_rates",
]
