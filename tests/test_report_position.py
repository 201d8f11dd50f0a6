"""Where passages and their edits sit in their bars on report.html: a chorale moved two beats later in
its bars is said to start two beats later here than in its source, and a chorale with one note of its
soprano changed names that note by bar, beat and pitch before and after."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from remixmusic.data.datasets import load_dataset
from remixmusic.music.notes import STEPS_PER_BEAT
from remixmusic.novelty.analyze import analyze
from remixmusic.novelty.index import Index
from remixmusic.novelty.page.position import beat_words, pitch_name
from tests.page_report import Page

SHIFT = 2  # beats


@pytest.fixture(scope="module")
def analysis():
    ds = load_dataset("bach-chorales")
    train = ds.pieces("train", show_progress=False)
    index = Index.build(train, show_progress=False)
    moved = train[70].crop_bars(0, 6)
    notes = moved.notes.copy()
    notes["onset"] += SHIFT * STEPS_PER_BEAT
    moved = replace(moved.with_notes(notes), source="moved.mid")
    changed = train[40].crop_bars(0, 8)
    notes = changed.notes.copy()
    soprano = np.flatnonzero(notes["track"] == 0)
    at = int(soprano[12])
    notes["pitch"][at] += 2
    changed = replace(changed.with_notes(notes), source="changed.mid")
    report = analyze([moved, changed], index, jobs=1, show_progress=False, originality=False)
    return report, index.piece_names[70], notes, at


def _plain(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text).replace("&#x27;", "'")


def test_a_passage_moved_in_its_bars_says_where_it_starts_here_and_in_the_source(analysis):
    report, source, _, _ = analysis
    text = report.html()
    dom = Page(text)
    card_texts = {i: _plain(e["text"]) for i, e in dom.ids().items() if i.startswith("pass-0-")}
    passages = [
        p for p in report.passage_records if p.piece == "moved.mid" and p.source_names[:1] == [source]
    ]
    assert passages
    for p in passages:
        card = card_texts[f"pass-0-{p.passage}"]
        m = re.search(r"starts on beat (\d+)(½|¼|¾)? here, beat (\d+)(½|¼|¾)? in the source", card)
        assert m, card[:300]
        here, there = int(m.group(1)), int(m.group(3))
        assert (here - there) % 4 == SHIFT, card[:300]
    rule = _plain(text[text.index("<h3 id='rule'>") :])
    assert "Where the notes fall in the bar and the meter are not compared" in rule


def test_a_changed_note_is_named_by_bar_beat_and_pitch(analysis):
    report, _, notes, at = analysis
    text = _plain(report.html())
    onset = int(notes["onset"][at])
    bar = int(np.searchsorted(report.note_maps[1].bar_starts, onset, side="right"))
    beat = beat_words((onset - int(report.note_maps[1].bar_starts[bar - 1])) / STEPS_PER_BEAT)
    old, new = pitch_name(int(notes["pitch"][at]) - 2), pitch_name(int(notes["pitch"][at]))
    varied = [p for p in report.passage_records if p.piece == "changed.mid" and "change" in p.edits]
    assert varied, [(p.label, p.edits) for p in report.passage_records if p.piece == "changed.mid"]
    assert f"bar {bar}, beat {beat}: {old} in the source" in text and f", {new} here" in text
    assert beat_words(0) == "1" and beat_words(2.5) == "3½" and pitch_name(60) == "C4"


def test_an_ornament_names_every_note_it_adds():
    """A soprano quarter note played as a turn (the note, its upper neighbour, the note, its lower
    neighbour, in sixteenths): one edit of three added notes, and the card names all three."""
    from remixmusic.music.notes import NOTE_DTYPE

    ds = load_dataset("bach-chorales")
    train = ds.pieces("train", show_progress=False)
    index = Index.build(train, show_progress=False)
    named = 0
    for k in (41, 42, 43):
        piece = train[k].crop_bars(0, 8)
        notes = piece.notes.copy()
        soprano = np.flatnonzero(notes["track"] == 0)
        at = next(int(i) for i in soprano[8:16] if notes["duration"][i] == STEPS_PER_BEAT)
        pitch, onset, step = int(notes["pitch"][at]), int(notes["onset"][at]), STEPS_PER_BEAT // 4
        notes["duration"][at] = step
        turn = np.zeros(3, NOTE_DTYPE)
        turn["onset"] = [onset + step, onset + 2 * step, onset + 3 * step]
        turn["duration"], turn["velocity"] = step, 80
        turn["pitch"] = [pitch + 2, pitch, pitch - 1]
        turned = replace(piece.with_notes(np.concatenate([notes, turn])), source="turn.mid")
        report = analyze([turned], index, jobs=1, show_progress=False, originality=False)
        assert any("ornament" in p.edits for p in report.passage_records if p.label == "varied")
        added = ", ".join(pitch_name(int(p)) for p in turn["pitch"])
        named += f": {added} added" in _plain(report.html())
    assert named == 3
