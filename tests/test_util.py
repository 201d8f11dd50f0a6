"""The shared private helpers (remixmusic._util): ramps, one-line messages and file permissions."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from remixmusic._util.arrays import ramp
from remixmusic._util.files import atomic_directory, umask, write_text
from remixmusic._util.text import exception_line, first_line
from remixmusic.errors import ConfigError, DatasetError, MidiError, check_choice


@given(st.lists(st.integers(0, 6), max_size=12))
def test_ramp_counts_up_within_every_run(lengths: list[int]) -> None:
    expected = [k for n in lengths for k in range(n)]
    got = ramp(np.array(lengths, np.int64))
    assert got.tolist() == expected and got.dtype == np.int64
    starts = np.array([5 * i for i in range(len(lengths))], np.int64)
    every_index = np.repeat(starts, lengths) + ramp(lengths)  # the ranges [start, start + length)
    assert every_index.tolist() == [s + k for s, n in zip(starts, lengths, strict=True) for k in range(n)]


def test_ramp_rejects_negative_lengths() -> None:
    with pytest.raises(ValueError):
        ramp([2, -1])


def test_first_line_and_exception_line() -> None:
    assert first_line("\n  boom: bad header \n  at line 3\n") == "boom: bad header"
    assert first_line(" \n ", "fallback") == "fallback"
    assert exception_line(ValueError("bad value\ntraceback-ish detail")) == "ValueError: bad value"
    assert exception_line(KeyError()) == "KeyError"
    assert MidiError("a.mid", "  corrupt\nsecond line").reason == "corrupt"
    assert str(MidiError("a.mid", "\n")) == "a.mid: unreadable MIDI"
    assert str(MidiError(None, "truncated")) == "truncated"


def test_written_files_get_the_permissions_the_umask_allows(tmp_path) -> None:
    mask = os.umask(0)
    os.umask(mask)
    assert umask() == mask  # read once at import; nothing here changes it
    write_text(tmp_path / "out.txt", "x")
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == 0o666 & ~mask


def test_a_directory_is_replaced_whole_or_not_at_all(tmp_path) -> None:
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("first")
        assert not target.exists()  # nothing under the final name until the block ends
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o777 & ~umask()
    with pytest.raises(RuntimeError), atomic_directory(target) as tmp:
        (tmp / "b.txt").write_text("second")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]  # the old folder, untouched
    with atomic_directory(target) as tmp:
        (tmp / "b.txt").write_text("second")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]  # no stale files survive
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporaries left


def test_check_choice_names_the_choices_in_a_one_line_error() -> None:
    assert check_choice("line mode", "melody", ("melody", "all")) == "melody"
    with pytest.raises(ConfigError, match=r"unknown line mode 'bass'; choose one of melody, all$"):
        check_choice("line mode", "bass", ("melody", "all"))
    with pytest.raises(DatasetError, match="unknown split 3"):
        check_choice("split", 3, ["train"], DatasetError)  # not even a string
