"""``postpress``: the command line of postpress-async.

::

    postpress accounts list [--limit N] [--cursor C] [--max-items N] [--format json|table]
    postpress chats list [--account-id ID[,ID]]... [--account-type T] [--unread|--read]
                         [--after T] [--before T] [paging] [--format json|table]
    postpress chats get ID [--account-id ID]
    postpress messages list [--account-id ID] [--sender-id ID] [--after T] [--before T] [paging]
    postpress messages get ID
    postpress export messages|chats|accounts (--to URL | --out FILE | --out DIR/) [filters]
                     [--shards N] [--by auto|time|account] [--force] [--follow ...]
                     [--max-in-flight N] [--engine dask --workers N | --scheduler ADDR]
                     [--progress | --quiet]
    postpress watch messages|chats [filters] [--since WHEN] [--out FILE [--state STATE]
                    | --to URL | --state STATE] [--poll-interval S] [--max-interval S]
                    [--overlap S] [--max-items N]
    postpress verify messages|chats|accounts (--to URL | --out PATH [--state STATE])
                     [--sample N] [filters]
    postpress demo [--messages N] [--seed N] [--shards N] [--fault-rate R] [--latency S]
                   [--out FILE]

Shared options, before or after the command, for the commands that use them:
``--api-key`` (else ``POSTPRESS_API_KEY``), ``--base-url`` (else ``POSTPRESS_BASE_URL``),
``--timeout``, ``--retries``, ``--allow-insecure-http``, and ``--fake`` with
``--fake-messages``, ``--fake-seed``, ``--fake-latency``, ``--fake-fault-rate``,
``--fake-bad-records``, ``--fake-clock-skew``, ``--fake-chat-time``, ``--fake-cursors`` to
run against the embedded fake server;
``--debug`` everywhere. An option given where it does nothing is a usage error.

Layout: :mod:`._parser` holds the table the commands register in and the shared
options; :mod:`.commands` one module a command (``list``, ``get``, ``export``,
``watch``, ``verify``, ``demo``), each an ``async def run(args, ctx)``; :mod:`._sync`
what ``export``, ``watch`` and ``verify`` share (the store, the client's configuration,
the engine: each is one call of :mod:`postpress_async.ingest`); :mod:`._app` runs the
chosen one. The CLI imports only public names, from the SDK's private modules too
(httpx's rule; ``tests/cli/test_public_imports.py``): nothing is made public for it.

Exit codes (:class:`ExitCode`): 0 ok, 1 API error (or a store that failed, or a verify
that found differences), 2 usage or bad input, 3 no or rejected API key (or connected
account), 4 network failure, 5 another export or follow is writing the same store, 130
interrupted (Ctrl-C), 143 stopped by SIGTERM.
"""

from ._app import main as main
from ._errors import ExitCode as ExitCode

__all__ = ["ExitCode", "main"]
