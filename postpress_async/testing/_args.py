"""The fake's argument checks: a TypeError or ValueError whose message starts with the
parameter's name, as every refusal of the fake's constructors does."""

from __future__ import annotations

__all__ = ["check_flag", "check_listen", "check_number", "check_whole"]


def check_number(name: str, value: object) -> None:
    """A real number (a bool or a numeric string is not one): else a TypeError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")


def check_whole(name: str, value: object) -> None:
    """An int (a bool is not one): else a TypeError naming it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")


def check_flag(name: str, value: object) -> None:
    """``True`` or ``False`` (truthiness would read ``"no"`` as yes): else a TypeError."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def check_listen(host: object, port: object) -> None:
    """Where a server listens: a non-empty host, a port in 0..65535 (0: any free one)."""
    if not isinstance(host, str) or not host:
        raise TypeError(f"host must be a non-empty str, got {host!r}")
    check_whole("port", port)
    if not 0 <= port <= 65_535:  # type: ignore[operator]
        raise ValueError(f"port must be within 0..65535 (0: any free port), got {port!r}")
