"""Typed errors for bad input: the CLI turns any ``RemixError`` into a one-line message and exit 1.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from remixmusic._util.text import first_line


class RemixError(Exception):
    """A problem with the user's input or environment, reported without a traceback."""


class ConfigError(RemixError, ValueError):
    """A configuration value out of range, of an unknown choice, or an unknown key in a saved config.

    Raised by every config dataclass's ``__post_init__`` and strict ``from_dict``. It is also a
    ``ValueError``, so code that guards a config with ``except ValueError`` keeps working.
    """


def check_choice(
    what: str, value: object, choices: Iterable[str], error: type[RemixError] = ConfigError
) -> str:
    """``value`` if it is one of ``choices``; else ``error("unknown WHAT 'value'; choose one of ...")``.

    Raises:
        RemixError: ``error`` (default :class:`ConfigError`) for a value not among ``choices``.
    """
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise error(f"unknown {what} {value!r}; choose one of {', '.join(options)}")
    return value


def check_values(stage: str, checks: Iterable[tuple[bool, str]]) -> None:
    """A config dataclass's range checks: ``checks`` are ``(holds, message)`` pairs, each message naming
    its field; the first that does not hold raises ``ConfigError("<stage> <message>")``.

    Raises:
        ConfigError: for the first check that does not hold.
    """
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"{stage} {message}")


def output_folder(path: str | Path, what: str = "the outputs") -> Path:
    """``path`` as a folder to write ``what`` into, made (with its parents) if missing: checked before
    any work, so a run never ends in a traceback after its work is done.

    Raises:
        RemixError: ``path`` is a file, or the folder cannot be made or written to (the system's reason).
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise RemixError(f"{folder} is a file; give a folder for {what}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RemixError(f"cannot make the folder {folder} for {what}: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise RemixError(f"cannot write into {folder} ({what}): permission denied")
    return folder


class MidiError(RemixError):
    """A file that cannot be read as MIDI. Carries the path and a one-line reason."""

    def __init__(self, path: str | Path | None, reason: str) -> None:
        self.path = None if path is None else str(path)
        self.reason = first_line(reason, "unreadable MIDI")
        super().__init__(f"{self.path}: {self.reason}" if self.path else self.reason)


class DatasetError(RemixError):
    """A dataset that does not exist, or whose manifest is missing or inconsistent."""


class CheckpointError(RemixError):
    """A checkpoint that is missing, of an unknown format or version, or tampered with."""


class TokenizerError(RemixError):
    """An invalid tokenizer configuration, or token ids this tokenizer cannot read."""


class IndexFileError(RemixError):
    """An index file that is missing, damaged, or of another format version."""
