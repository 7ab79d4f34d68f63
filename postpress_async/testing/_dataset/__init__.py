"""A deterministic, memory-lean synthetic postpress workspace, in five rooms.

Only compact columns are stored per message (a timestamp, a chat index, a sender index
and a link to the chat's previous message); every object's JSON is rendered on demand
from ``(seed, index)`` with a cheap integer hash, so a 1,000,000-message dataset costs
about 25 MB.

* :mod:`._ids`: ids and hashing (the seed's hash streams, ULID-shaped ids, parsing back);
* :mod:`._columns`: the configuration and the column builder (the only stored facts);
* :mod:`._indexes`: the indexes listings page through (per account/sender, chat order);
* :mod:`._messages`, :mod:`._render` and :mod:`._quirks`: the wire JSON (messages a
  page at a time; accounts and chats), and the real API's habits in one table; a
  message's parts come from :mod:`._texts`, :mod:`._attachments` and :mod:`._speakers`
  (what the messages of a chat, and of a sender in it, share);
* :mod:`._bad`: the bad records ``bad_records=True`` serves, and where;
* :mod:`._truth`: the ground truth, by brute force over the columns;
* :mod:`._workspace`: :class:`Dataset`, the facade the server and tests use.
"""

from postpress_async.testing._dataset._bad import BadRecord as BadRecord
from postpress_async.testing._dataset._columns import ACCOUNT_TYPES as ACCOUNT_TYPES
from postpress_async.testing._dataset._columns import CHAT_ACCOUNT_TYPES as CHAT_ACCOUNT_TYPES
from postpress_async.testing._dataset._columns import DatasetConfig as DatasetConfig
from postpress_async.testing._dataset._truth import AccountRow as AccountRow
from postpress_async.testing._dataset._truth import ChatRow as ChatRow
from postpress_async.testing._dataset._truth import MessageRow as MessageRow
from postpress_async.testing._dataset._workspace import Dataset as Dataset

__all__ = [
    "ACCOUNT_TYPES",
    "CHAT_ACCOUNT_TYPES",
    "AccountRow",
    "BadRecord",
    "ChatRow",
    "Dataset",
    "DatasetConfig",
    "MessageRow",
]
