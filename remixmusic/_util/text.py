"""Short text for users: one line that says what went wrong."""

from __future__ import annotations


def first_line(text: str, default: str = "") -> str:
    """The first non-empty line of ``text`` with surrounding space stripped (``default`` if none)."""
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else default


def exception_line(exc: BaseException) -> str:
    """``"TypeName: first line of the message"`` (the type name alone for an empty message)."""
    line = first_line(str(exc))
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__
