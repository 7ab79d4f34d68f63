"""The ground truth a running fake hands out: what a complete listing returns right now.

``GET {root}/_fake/truth/{messages|chats|accounts}`` (see ``_server``) and
:meth:`FakePostpress.truth` both answer from :func:`truth_report`: the dataset's
brute-force ground truth (``Dataset.expected_*_ids``, independent of the indexes the
listings page through), less the live messages not listed yet, with the bad records
(``Dataset(bad_records=True)``) sorted out::

    {"object": "Truth", "resource": "messages", "count": 996,
     "ids": ["msg_…", …],          # every readable item's id, in listing order
     "repaired": ["msg_…", …],     # those whose text holds a lone surrogate (-> U+FFFD)
     "nul": ["msg_…"],             # those whose text holds U+0000
     "unreadable": [               # the items no reader can take, in listing order
        {"position": 499, "index": 499, "id": "msg_…", "kind": "null_item", "raw": "null"},
        …]}

``position`` is the item's place in the complete listing (unreadable items count: a
page holds ``limit`` items, good or bad), ``index`` the dataset's message index, ``id``
the dataset's id of that message (what ``GET /messages/{id}`` takes, whatever the bytes
say), ``raw`` the item's bytes exactly as served (UTF-8 text).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Final, Literal

from postpress_async.testing._dataset import Dataset
from postpress_async.testing._live import LiveMessages

__all__ = ["FILTERS", "RESOURCES", "Resource", "truth_report"]

Resource = Literal["messages", "chats", "accounts"]
RESOURCES: Final[tuple[Resource, ...]] = ("messages", "chats", "accounts")
FILTERS: Final[dict[str, tuple[str, ...]]] = {
    "messages": ("account_id", "sender_id", "before", "after"),
    "chats": ("account_id", "account_type", "unread", "before", "after"),
    "accounts": (),
}
"""The filters each listing takes (the same names as the list endpoints' parameters)."""

_Time = str | _dt.datetime | None


def truth_report(
    dataset: Dataset, live: LiveMessages, resource: str, **filters: Any
) -> dict[str, Any]:
    """The truth document of ``resource`` under ``filters`` (see the module docstring).

    Filters are Python values: ``before``/``after`` an ISO string or an aware datetime,
    chats' ``account_id`` a comma-separated string or an iterable of ids, ``unread`` a
    bool. A filter the listing does not take is a ``ValueError``, and so is a value the
    listing refuses (a 400, or on messages a 404 for an unknown ``account_id`` or
    ``sender_id``); a value of the wrong type is a ``TypeError``.
    """
    if resource not in FILTERS:
        raise ValueError(f"unknown resource {resource!r}; expected one of {', '.join(RESOURCES)}")
    unknown = sorted(set(filters) - set(FILTERS[resource]))
    if unknown:
        allowed = ", ".join(FILTERS[resource]) or "none"
        raise ValueError(f"{resource} take no filter {', '.join(unknown)} (they take: {allowed})")
    report: dict[str, Any] = {"object": "Truth", "resource": resource}
    if resource == "messages":
        ids, repaired, nul, unreadable = _messages(dataset, live, **filters)
    else:
        ids = (
            dataset.expected_account_ids()
            if resource == "accounts"
            else dataset.expected_chat_ids(**filters)
        )
        repaired, nul, unreadable = [], [], []
    report.update(count=len(ids), ids=ids, repaired=repaired, nul=nul, unreadable=unreadable)
    return report


def _messages(
    dataset: Dataset,
    live: LiveMessages,
    *,
    account_id: str | None = None,
    sender_id: str | None = None,
    before: _Time = None,
    after: _Time = None,
) -> tuple[list[str], list[str], list[str], list[dict[str, Any]]]:
    listed = dataset.expected_message_ids(
        account_id=account_id, sender_id=sender_id, before=before, after=after
    )
    waiting = {dataset.message_id(index) for index in live.unlisted_indexes()}
    if waiting:
        listed = [message_id for message_id in listed if message_id not in waiting]
    bad = {record.id: record for record in dataset.bad_messages()}
    if not bad:
        return listed, [], [], []
    ids: list[str] = []
    repaired: list[str] = []
    nul: list[str] = []
    unreadable: list[dict[str, Any]] = []
    for position, message_id in enumerate(listed):
        record = bad.get(message_id)
        if record is None:
            ids.append(message_id)
        elif record.readable:
            ids.append(message_id)
            if record.repaired:
                repaired.append(message_id)
            if record.kind == "nul_in_text":
                nul.append(message_id)
        else:
            raw = dataset.message_json(record.index).decode()
            unreadable.append(
                {
                    "position": position,
                    "index": record.index,
                    "id": record.id,
                    "kind": record.kind,
                    "raw": raw,
                }
            )
    return ids, repaired, nul, unreadable
