"""A real analysis to test report.html on: chorale patchworks (bars of two reference chorales, the second
transposed) and a held-out chorale as the query, held-out chorales as the control, the training split
of the shipped Bach chorales as the reference."""

from __future__ import annotations

from dataclasses import replace
from html.parser import HTMLParser

import numpy as np

from remixmusic.data.datasets import load_dataset
from remixmusic.music.notes import Piece
from remixmusic.novelty.analyze import analyze
from remixmusic.novelty.index import Index
from remixmusic.novelty.report import AnalysisReport


def patchwork(a: Piece, b: Piece, bars: int = 4, transpose: int = 3, name: str = "") -> Piece:
    """Bars 1..``bars`` of ``a`` then bars 3..``bars + 2`` of ``b`` moved by ``transpose`` semitones."""
    first = a.crop_bars(0, bars)
    second = b.crop_bars(2, bars).transpose(transpose)
    notes = second.notes.copy()
    notes["onset"] += first.bar_starts(first.end + 1)[-1] if bars else 0
    piece = first.with_notes(np.sort(np.concatenate([first.notes, notes]), order=["onset", "pitch"]))
    return replace(piece, source=f"{name}.mid")


def page_report(n_control: int = 6) -> tuple[AnalysisReport, list[str]]:
    """The report, and the reference names the patchworks were made of (first, second per piece)."""
    ds = load_dataset("bach-chorales")
    train, test = ds.pieces("train"), ds.pieces("test")
    index = Index.build(train, show_progress=False)
    pairs = [(10, 40), (70, 120)]
    query = [patchwork(train[i], train[j], name=f"patchwork{k}") for k, (i, j) in enumerate(pairs)]
    query.append(test[0])
    report = analyze(
        query,
        index,
        control=test[1 : 1 + n_control],
        jobs=1,
        show_progress=False,
        originality=False,
    )
    used = [index.piece_names[i] for pair in pairs for i in pair]
    return report, used


class Page(HTMLParser):
    """The elements of a page as (tag, attributes, text inside, position), tables as rows of cells."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[dict] = []
        self._open: list[dict] = []
        self.tables: list[dict] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": "", "children": [], "pos": len(self.elements)}
        self.elements.append(element)
        if self._open:
            self._open[-1]["children"].append(element)
        if tag not in ("meta", "input", "br", "img"):
            self._open.append(element)
        if tag == "table":
            self.tables.append({"element": element, "rows": []})
        if tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        if tag in ("td", "th") and self.tables and self.tables[-1]["rows"]:
            self.tables[-1]["rows"][-1].append(element)

    def handle_endtag(self, tag):
        while self._open:
            element = self._open.pop()
            if element["tag"] == tag:
                break

    def handle_data(self, data):
        for element in self._open:
            element["text"] += data

    def ids(self) -> dict[str, dict]:
        return {e["attrs"]["id"]: e for e in self.elements if "id" in e["attrs"]}

    def find(self, tag: str | None = None, cls: str | None = None, within: dict | None = None) -> list[dict]:
        pool = _descendants(within) if within is not None else self.elements
        return [
            e
            for e in pool
            if (tag is None or e["tag"] == tag)
            and (cls is None or cls in e["attrs"].get("class", "").split())
        ]


def _descendants(element: dict) -> list[dict]:
    out = []
    for child in element["children"]:
        out.append(child)
        out += _descendants(child)
    return out
