"""A shard task's error on its way from a Dask worker to the coordinator.

An error travels itself when the coordinator can unpickle it, else as a
:class:`TaskError` (its class name and message). One that a new try would meet again
(:func:`~postpress_async._retry.lasting`: a 401, bad input, another writer) travels as
a :class:`Lasting` the task returns instead of raising: Dask runs a task that raised
again, ``retries`` times, whatever the error.
"""

from __future__ import annotations

import contextlib
import pickle
from typing import NamedTuple

__all__ = ["Lasting", "TaskError", "one_line", "portable"]


class TaskError(Exception):
    """A shard task's error that would not survive pickling, as plain text: its class
    name and its message on one line."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(kind, message)
        self.kind = kind
        self.message = message

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"

    @classmethod
    def of(cls, error: BaseException) -> TaskError:
        """``error`` as a TaskError."""
        return cls(type(error).__name__, one_line(str(error)))


class Lasting(NamedTuple):
    """A task's failure that no new try would change, returned (not raised): ``error``
    (portable, see :func:`portable`) and ``why`` a new try would meet it again."""

    error: Exception
    why: str


def portable(error: Exception) -> Exception:
    """``error`` itself if the coordinator can unpickle it (an SDK or built-in error that
    pickles: a worker may have modules the coordinator lacks), else its class name and
    message as a :class:`TaskError`."""
    module = type(error).__module__
    if module == "builtins" or module.partition(".")[0] == "postpress_async":
        with contextlib.suppress(Exception):
            pickle.loads(pickle.dumps(error))
            return error
    return TaskError.of(error)


def one_line(text: str) -> str:
    return " ".join(text.split())
