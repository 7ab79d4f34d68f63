"""The envelope of an error response."""

from __future__ import annotations

from ._base import Model

__all__ = ["ErrorBody"]


class ErrorBody(Model, frozen=True, kw_only=True):
    """The JSON body of a non-2xx response; every field may be missing."""

    title: str | None = None
    type: str | None = None
    status: int | None = None
    detail: str | None = None
    instance: str | None = None
