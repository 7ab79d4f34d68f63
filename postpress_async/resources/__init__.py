"""One module a namespace of the API: ``client.accounts``, ``client.chats``, ``client.messages``."""

from .accounts import Accounts as Accounts
from .chats import Chats as Chats
from .messages import Messages as Messages

__all__ = ["Accounts", "Chats", "Messages"]
