"""The analysis report's files: what each section shows."""

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from remixmusic.errors import RemixError
from remixmusic.novelty.passages import NOTE_LABELS
from remixmusic.novelty.records import MOTIF_COLUMNS, PIECE_COLUMNS, MotifRecord, PassageRecord, PieceRecord
from remixmusic.novelty.report import LABELS, AnalysisReport, NoteMap, _note_colors


def motif(piece: str, group: str, source: str) -> MotifRecord:
    return MotifRecord(
        piece=piece,
        group=group,
        motif=0,
        track=0,
        voice=0,
        start_beat=0.0,
        end_beat=4.0,
        start_note=0,
        end_note=2,
        n_notes=2,
        label="copied",
        sources=source,
        source_bars="1-1",
        match_length=2,
        doc_freq=1,
        bits=12.5,
        edits=0,
        covered_share=1.0,
    )


def piece_record(piece: str, group: str) -> PieceRecord:
    return PieceRecord(
        piece=piece,
        group=group,
        path="",
        n_notes=2,
        n_line_notes=2,
        n_motifs=1,
        copied_coverage=1.0,
        varied_coverage=0.0,
        stock_coverage=0.0,
        recombined_fraction=1.0,
        copied_fraction=1.0,
        varied_fraction=0.0,
        stock_fraction=0.0,
        self_repeat_fraction=0.0,
        prompt_fraction=0.0,
        novel_fraction=0.0,
        longest_copied_notes=2,
        longest_copied_bars=1,
        longest_copied_source="x.mid",
        longest_copied_source_bars="1-1",
        fan_in=1,
        novel_glue_notes=float("nan"),
        n_passages=1,
        top_source_share=1.0,
        originality=math.nan,
        originality_min=math.nan,
        segmentation="lbdm",
    )


def passage(piece: str, group: str, source: str, k: int = 0, label: str = "copied") -> PassageRecord:
    """A 2-note passage of ``piece`` (notes 0 and 1, beats 0-2, bar 1) from bars 3-3 of ``source``."""
    return PassageRecord(
        piece=piece,
        group=group,
        passage=k,
        line=0,
        track=0,
        voice=0,
        start_note=0,
        end_note=2,
        start_beat=0.0,
        end_beat=2.0,
        bars="1-1",
        label=label,
        sources=source,
        source_bars="3-3",
        source_start_beat=8.0,
        source_end_beat=10.0,
        transposition=2,
        time_scale=1.0,
        edits="",
        n_edits=0,
        match_length=2,
        doc_freq=1,
        bits=12.5,
        n_notes=2,
        prompt_notes=0,
        note_indices="0;1",
        source_notes="8:58;9:60",
    )


def test_a_pieces_details_list_only_its_query_passages_when_a_control_piece_has_the_same_name():
    notes = NoteMap(
        onset=np.array([0, 12]),
        duration=np.array([12, 12]),
        pitch=np.array([60, 62]),
        source=np.array([0, 0]),
        label=np.full(2, LABELS.index("copied")),
    )
    report = AnalysisReport(
        params={"min_match_notes": 5, "invariance": "transposed+tempo", "config": {"seed": 0}},
        piece_records=[piece_record("a.mid", "query"), piece_record("a.mid", "control")],
        motif_records=[
            motif("a.mid", "query", "from_query.mid"),
            motif("a.mid", "control", "from_control.mid"),
        ],
        passage_records=[
            passage("a.mid", "query", "from_query.mid"),
            passage("a.mid", "control", "from_control.mid"),
        ],
        coverage_lengths=np.arange(2, 4),
        coverage={"query": np.ones((1, 2)), "control": np.ones((1, 2))},
        originality_curves=[],
        comparisons=[],
        leakage={},
        skipped=[],
        reference_names=["from_query.mid", "from_control.mid"],
        note_maps=[notes],
    )
    page = report.html()
    details = page[page.index("<section class='piece' id='piece-0'") : page.index("<section id='statistics'>")]
    assert "from_query.mid" in details and "from_control.mid" not in details


def test_notes_are_coloured_by_label_every_label_its_own_colour():
    code = {name: NOTE_LABELS.index(name) for name in NOTE_LABELS}
    labels = ["copied", "copied", "copied", "novel", "novel", "not-analysed", "varied", "stock", "self-repeat"]
    notes = NoteMap(
        onset=np.arange(9) * 12,
        duration=np.full(9, 12),
        pitch=np.full(9, 60),
        source=np.array([4, 2, 4, -1, 2, 4, 2, -1, -1]),
        label=np.array([code[name] for name in labels]),
    )
    colors, legend = _note_colors(notes, [f"ref{i}" for i in range(5)])
    assert colors.shape == (9, 4)
    # Copied notes look alike whatever their source (sources are named beside the map, not coloured).
    np.testing.assert_allclose(colors[0], colors[1])
    np.testing.assert_allclose(colors[3], colors[4])
    by_label = {name: tuple(colors[labels.index(name)]) for name in set(labels)}
    assert len(set(by_label.values())) == len(by_label)  # copied, varied, stock, ... all distinct
    # The legend names the labels present, in label order, with their colours.
    # ("novel" worded as on the page: in no copy)
    shown = {"novel": "novel (no copy)"}
    assert [name for name, _ in legend] == [shown.get(lab, lab) for lab in NOTE_LABELS if lab in labels]
    for (_, colour), lab in zip(legend, [lab for lab in NOTE_LABELS if lab in labels], strict=True):
        np.testing.assert_allclose(colour, by_label[lab])


def test_missing_motif_values_are_empty_cells_and_read_back_as_none():
    novel = replace(motif("a.mid", "query", ""), label="novel", bits=None, edits=None, doc_freq=0)
    row = novel.to_dict()
    assert tuple(row) == MOTIF_COLUMNS and row["bits"] == "" and row["edits"] == ""
    assert row["transposition"] == "" and row["sources"] == ""
    back = MotifRecord.from_dict(row)
    assert back == novel and back.bits is None and back.source_names == []
    copied = motif("a.mid", "query", "x.mid;y.mid")
    assert MotifRecord.from_dict(copied.to_dict()) == copied and copied.source_names == ["x.mid", "y.mid"]


def test_piece_rows_read_back_from_json_with_nan_as_null_and_unknown_columns_refused():
    record = piece_record("a.mid", "query")
    row = {**record.to_dict(), "originality": None, "originality_min": None}  # NaN as report.json has it
    back = PieceRecord.from_dict(row)
    assert math.isnan(back.originality) and back.copied_coverage == 1.0 and back.leaked is False
    old = {k: v for k, v in row.items() if k != "leaked"}  # a report before the leakage flag
    assert PieceRecord.from_dict(old).leaked is False
    with pytest.raises(RemixError, match=r"unknown column.*colour"):
        PieceRecord.from_dict({**row, "colour": "red"})
    with pytest.raises(RemixError, match=r"missing column.*fan_in"):
        PieceRecord.from_dict({k: v for k, v in row.items() if k != "fan_in"})
    assert record.measure("fan_in") == 1.0
    with pytest.raises(RemixError, match="not a numeric piece measure"):
        record.measure("piece")


def test_report_tables_and_files_keep_the_record_columns_in_order(tmp_path):
    report = AnalysisReport(
        params={
            "min_match_notes": 5,
            "invariance": "transposed+tempo",
            "config": {"seed": 0, "match": {"near": True}},
        },
        piece_records=[piece_record("a.mid", "query")],
        motif_records=[motif("a.mid", "query", "x.mid")],
        coverage_lengths=np.arange(2, 4),
        coverage={"query": np.ones((1, 2)), "control": np.zeros((0, 2))},
        originality_curves=[],
        comparisons=[],
        leakage={},
        skipped=[],
        reference_names=["x.mid"],
        note_maps=[NoteMap(*(np.array([v]) for v in (0, 12, 60, 0, LABELS.index("copied"))))],
    )
    report.save(tmp_path)
    assert (tmp_path / "pieces.csv").read_text().splitlines()[0] == ",".join(PIECE_COLUMNS)
    assert (tmp_path / "motifs.csv").read_text().splitlines()[0] == ",".join(MOTIF_COLUMNS)
    saved = json.loads((tmp_path / "report.json").read_text())
    assert list(saved["pieces"][0]) == list(PIECE_COLUMNS) and saved["pieces"][0]["originality"] is None
    assert list(saved["motifs"][0]) == list(MOTIF_COLUMNS)
    # Nested settings are one row each in the page's settings table.
    assert "config.match.near" in report.html()
    # The raw motifs table keeps motifs.csv's columns, and says that its beats count from 0 as there.
    assert "columns as in motifs.csv, so beats count from 0" in report.html()
    rows = report.motifs.to_dict("records")  # a DataFrame, whatever is installed (pandas is a dependency)
    assert rows[0]["sources"] == "x.mid" and list(rows[0]) == list(MOTIF_COLUMNS)
