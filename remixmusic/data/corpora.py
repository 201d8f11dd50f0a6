"""The corpora that ship inside music21 (Bach chorales, Essen folk songs, O'Neill's Irish tunes): where their files are and how each becomes a dataset."""


from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class CorpusSpec:
    """A dataset that can be built from the music21 corpus: which files, and how to name their pieces."""

    name: str
    description: str
    files: Callable[[], list[str]]  # paths relative to music21's corpus folder
    minimum: int  # the number of pieces a complete build yields at least (a sanity check in tests)


def _music21_corpus_dir() -> Path:
    from music21 import common

    return Path(common.getCorpusFilePath())


@cache
def _bach_chorales() -> dict[str, tuple[str, list[int]]]:
    """Chorale file (relative path) -> (title, Riemenschneider numbers), from music21's chorale list."""
    from music21.corpus import chorales

    listing = chorales.ChoraleListRKBWV().byRiemenschneider
    files = chorales.Iterator(returnType="filename")
    out: dict[str, tuple[str, list[int]]] = {}
    corpus_dir = _music21_corpus_dir()
    for number, stem in zip(sorted(listing), files, strict=True):
        folder, base = (corpus_dir / stem).parent, Path(stem).name
        matches = [
            folder / f"{base}{suffix}"
            for suffix in (".mxl", ".xml")
            if (folder / f"{base}{suffix}").is_file()
        ]
        if not matches:
            continue
        relative = matches[0].relative_to(corpus_dir).as_posix()
        title, numbers = out.get(relative, (listing[number]["title"], []))
        out[relative] = (title, [*numbers, number])
    return out


def _abc_files(folder: str) -> Callable[[], list[str]]:
    def files() -> list[str]:
        base = _music21_corpus_dir()
        return sorted(p.relative_to(base).as_posix() for p in (base / folder).glob("*.abc"))

    return files


CORPORA: dict[str, CorpusSpec] = {
    spec.name: spec
    for spec in (
        CorpusSpec(
            "bach-chorales",
            "J.S. Bach's four-part chorales in music21 (Riemenschneider numbering, one file each)",
            lambda: sorted(_bach_chorales()),
            340,
        ),
        CorpusSpec(
            "essen",
            "Essen folk song collection in music21 (essenFolksong ABC files)",
            _abc_files("essenFolksong"),
            8400,
        ),
        CorpusSpec(
            "oneills",
            "O'Neill's Music of Ireland (1850) in music21 (oneills1850 ABC files)",
            _abc_files("oneills1850"),
            1900,
        ),
    )
}
