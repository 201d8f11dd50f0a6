"""Short text for users: one line that says what went wrong."""

from __future__ import annotations


def printable(name: str) -> str:
    """A file name for people: Python keeps the bytes of a name that is not UTF-8 (a Latin-1 ``café``
    from an old archive) as lone surrogates, which no output file can hold; those bytes are read as
    Windows-1252 instead (``café``), the usual encoding of such names. Other names come back unchanged."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        raw = name.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def first_line(text: str, default: str = "") -> str:
    """The first non-empty line of ``text`` with surrounding space stripped (``default`` if none)."""
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else default


def one_line(text: str) -> str:
    """``text`` with control characters (a newline in a file name, a tab) written as escapes (``\\n``),
    so that it prints on one line."""
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii") for c in text)


def exception_line(exc: BaseException) -> str:
    """``"TypeName: first line of the message"`` (the type name alone for an empty message)."""
    line = first_line(str(exc))
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__
