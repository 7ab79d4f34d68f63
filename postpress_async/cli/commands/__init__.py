"""The commands of ``postpress``, one module each, registered in one table.

To add a command: write a module here with ``register(table)`` (which calls
``table.add("words", run, "help")`` and adds the command's own options to the parser
it returns) and an ``async def run(args, ctx)``; then list the module in ``COMMANDS``.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from . import demo, export, get, verify, watch
from . import list as list_

if TYPE_CHECKING:
    from postpress_async.cli._parser import CommandTable

__all__ = ["COMMANDS", "register_all"]

#: In the order ``postpress --help`` lists them.
COMMANDS: tuple[ModuleType, ...] = (list_, get, export, watch, verify, demo)

_GROUPS = (
    ("accounts", "accounts linked to the workspace"),
    ("chats", "chats of the connected accounts"),
    ("messages", "messages across all chats and accounts"),
    ("export", "everything matching into a file or a database; run again to continue"),
)


def register_all(table: CommandTable) -> None:
    """Register every command of :data:`COMMANDS` in ``table``."""
    for name, help_text in _GROUPS:
        table.group(name, help_text)
    for module in COMMANDS:
        module.register(table)
