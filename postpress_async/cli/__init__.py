"""``postpress``: the command line of postpress-async.

::

    postpress accounts list [--limit N] [--cursor C] [--max-items N] [--format json|table]
    postpress chats list [--account-id ID[,ID]]... [--account-type T] [--unread|--read]
                         [--after T] [--before T] [paging] [--format json|table]
    postpress chats get ID [--account-id ID]
    postpress messages list [--account-id ID] [--sender-id ID] [--after T] [--before T] [paging]
    postpress messages get ID
    postpress export messages|chats --out FILE.jsonl [filters] [--windows N]
                     [--prefetch N] [--resume | --force] [--progress | --quiet]
    postpress demo [--messages N] [--seed N] [--windows N] [--fault-rate R] [--latency S]
                   [--out FILE]

Shared options, before or after the command, for the commands that use them:
``--api-key`` (else ``POSTPRESS_API_KEY``), ``--base-url`` (else ``POSTPRESS_BASE_URL``),
``--timeout``, ``--retries``, ``--allow-insecure-http``, and ``--fake`` with ``--fake-messages``, ``--fake-seed``,
``--fake-latency``, ``--fake-fault-rate`` to run against the embedded fake server;
``--debug`` everywhere. An option given where it does nothing is a usage error.

Layout: :mod:`._parser` holds the table the commands register in and the shared
options; :mod:`.commands` one module a command (``list``, ``get``, ``export``,
``demo``), each an ``async def run(args, ctx)``; :mod:`._app` runs the chosen one.
The CLI imports only public names of :mod:`postpress_async`.

Exit codes (:class:`ExitCode`): 0 ok, 1 API error, 2 usage or bad input, 3 no or
rejected API key, 4 network failure, 5 output locked by another export, 130 interrupted
(143 on SIGTERM).
"""

from ._app import main as main
from ._errors import ExitCode as ExitCode

__all__ = ["ExitCode", "main"]
