"""The typed responses of the postpress API (msgspec Structs), re-exported flat.

Each module's ``__all__`` is the one list of its public names; this package re-exports
them all, so a new model is named once, where it is defined.
"""

from __future__ import annotations

from . import _page, accounts, attachments, chats, enums, errors, messages
from ._page import *
from .accounts import *
from .attachments import *
from .chats import *
from .enums import *
from .errors import *
from .messages import *

__all__: list[str] = []
__all__ += _page.__all__
__all__ += accounts.__all__
__all__ += attachments.__all__
__all__ += chats.__all__
__all__ += enums.__all__
__all__ += errors.__all__
__all__ += messages.__all__
__all__.sort()
