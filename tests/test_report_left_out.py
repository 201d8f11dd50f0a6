"""Control pieces left out of the comparisons: a human piece that carries a reference tune (the same hymn
tune harmonised twice) is no control for copying, whether the control is the dataset's held-out split or
a folder; the page and the files say which and why."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from remixmusic.data.datasets import load_dataset
from remixmusic.music.notes import Piece
from remixmusic.novelty.analyze import analyze
from remixmusic.novelty.index import Index


def _name(piece) -> str:
    return Path(piece.source).name


@pytest.fixture(scope="module")
def chorales():
    data = load_dataset("bach-chorales")
    train, test = data.pieces("train", show_progress=False), data.pieces("test", show_progress=False)
    carrier = next(p for p in test if _name(p) == "bwv70.11.mid")
    others = [p for p in test if _name(p) != "bwv70.11.mid"][:3]
    return data, train, test, carrier, others


@pytest.fixture(scope="module")
def folder_report(chorales, tmp_path_factory):
    """Reference: the training split's MIDI files (what a default ``remixmusic analyze`` of generated
    pieces gets); control: a folder holding bwv70.11 and three other held-out chorales."""
    data, _, _, carrier, others = chorales
    folder = tmp_path_factory.mktemp("control")
    for p in (carrier, *others):
        shutil.copy(p.source, folder / _name(p))
    report = analyze(
        others[:1], data.files("train"), control=folder, jobs=1, show_progress=False, originality=False
    )
    return report, tmp_path_factory.mktemp("out")


def test_a_control_piece_carrying_a_reference_tune_is_left_out_by_name(folder_report):
    report, out = folder_report
    control = {r.piece: r for r in report.piece_records if r.group == "control"}
    carrier = control["bwv70.11.mid"]
    # Its borrowed soprano is a quarter of its notes: the leakage check (half from one piece) misses it.
    assert not carrier.leaked and carrier.top_source_share < 0.5
    assert carrier.left_out == "carries the tune of reference bwv154.8.mid (same melody)"
    assert carrier.excluded
    assert "bwv70.11.mid" not in {r.piece for r in report.compared_records("control")}
    assert len(report.compared_records("control")) == len(control) - 1
    assert report.params["n_control_compared"] == len(control) - 1
    check = report.leakage["tune_check"]
    assert check["ran"] and check["removed"] == [{"piece": "bwv70.11.mid", "reference": "bwv154.8.mid"}]
    assert not any(r.left_out for name, r in control.items() if name != "bwv70.11.mid")

    report.save(out)
    page = (out / "report.html").read_text(encoding="utf-8")
    first_screen = page[page.index("<section id='overview'>") : page.index("<h3 id='rule'>")]
    assert (
        "bwv70.11.mid carries the tune of reference bwv154.8.mid (same melody): left out of the comparison"
        in first_screen
    )
    rows = {r["piece"]: r for r in csv.DictReader((out / "pieces.csv").open(encoding="utf-8"))}
    assert rows["bwv70.11.mid"]["left_out"].startswith("carries the tune of reference bwv154.8")
    assert (
        rows[next(n for n in rows if n != "bwv70.11.mid" and rows[n]["group"] == "control")]["left_out"] == ""
    )
    saved = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert saved["leakage"]["tune_check"]["removed"][0]["reference"] == "bwv154.8.mid"


def test_the_held_out_split_as_control_is_checked_too(chorales):
    """The default control of ``remixmusic analyze`` (no --control): the dataset's held-out split, with
    the training split as the reference (here given as a dataset name)."""
    from remixmusic.experiment.provenance import analyze as analyze_generated

    data, _, _, _, others = chorales
    report = analyze_generated(
        others[:1],
        "bach-chorales",
        control=data.files("test"),
        jobs=1,
        show_progress=False,
        originality=False,
    )
    left = {r.piece: r.left_out for r in report.piece_records if r.group == "control" and r.left_out}
    assert "bwv70.11.mid" in left and "bwv154.8" in left["bwv70.11.mid"]
    assert report.leakage["tune_check"]["n_removed"] >= 1


def test_an_index_built_as_the_readme_shows_still_checks_the_control(chorales, tmp_path):
    """``Index.build(dataset, split="train")`` then ``analyze(query, index, control=...)`` (the README's
    Python API), and the same index saved and loaded: the index's pieces are read again from its source
    files, so the same-tune check runs and leaves out the same control piece as a dataset reference does
    (it was skipped, with a summary saying the index was a saved one)."""
    data, _, _, carrier, others = chorales
    index = Index.build(data, split="train", show_progress=False)
    index.save(tmp_path / "ref.idx")
    for reference in (index, Index.load(tmp_path / "ref.idx")):
        report = analyze(
            others[:1], reference, control=[carrier, *others[1:]], jobs=1, show_progress=False, originality=False
        )
        assert report.leakage["tune_check"]["ran"]
        left = {r.piece: r.left_out for r in report.piece_records if r.group == "control" and r.left_out}
        assert "bwv70.11.mid" in left and "bwv154.8" in left["bwv70.11.mid"]


def test_with_an_index_of_pieces_not_on_disk_the_page_says_the_check_could_not_run(chorales):
    _, train, _, carrier, others = chorales
    index = Index.build([Piece(p.notes, p.tracks) for p in train[:60]], show_progress=False)  # no files
    report = analyze(
        others[:1], index, control=[carrier, *others[1:]], jobs=1, show_progress=False, originality=False
    )
    assert not report.leakage["tune_check"]["ran"]
    assert not any(r.left_out for r in report.piece_records if not r.leaked)
    page = report.html()
    first_screen = page[page.index("<section id='overview'>") : page.index("<h3 id='rule'>")]
    assert "Same-tune check: not run" in first_screen and "source files are not at hand" in first_screen


def test_the_control_details_say_what_they_count_against_the_first_screens_count(folder_report):
    report, _ = folder_report
    text = report.html()
    plain = re.sub(r"<[^>]+>", "", text)
    control = {r.piece: r for r in report.piece_records if r.group == "control"}
    shown = [control[n] for n in report.control_note_maps]
    out = [r for r in shown if r.excluded]
    assert out, "the carrier copies: its details are shown, though it is left out"
    compared = report.compared_records("control")
    n_copying = sum(1 for r in compared if r.copied_fraction > 0)
    # The first screen counts compared pieces with a copied passage ...
    first = plain[plain.index("pieces with at least one copied passage (of the compared pieces)") :]
    assert re.match(
        r"pieces with at least one copied passage \(of the compared pieces\)\d+ of \d+(\d+) of (\d+)", first
    ).groups() == (str(n_copying), str(len(compared)))
    # ... and the control details say how their own count, with left-out and varied-only pieces, relates.
    copied = sum(1 for r in shown if r.copied_fraction > 0)
    section = plain[plain.index("Human control pieces that copy: remix maps") :]
    assert (
        f"with a copied or varied passage ({copied} with a copied passage, {len(shown) - copied} with varied "
        f"passages only; {len(out)} of them left out of the comparison: the first screen's {n_copying} of "
        f"{len(compared)} counts the compared pieces with a copied passage)"
    ) in section
    assert copied - sum(1 for r in out if r.copied_fraction > 0) == n_copying


def test_a_left_out_control_piece_links_from_the_per_piece_table_to_its_map(folder_report):
    from tests.page_report import Page

    report, _ = folder_report
    dom = Page(report.html())
    ids = dom.ids()
    rows = [
        r for t in dom.tables for r in t["rows"] if r and r[0]["text"].startswith("bwv70.11.mid (left out")
    ]
    assert rows, "the carrier has a row in the control table"
    links = [a["attrs"]["href"] for a in dom.find("a", within=rows[0][0])]
    assert links and links[0].startswith("#piece-c") and links[0][1:] in ids
