"""The analysis report's files: what each section shows."""

import numpy as np

from remixmusic.novelty.report import LABELS, AnalysisReport, NoteMap, _note_colors


def motif(piece: str, group: str, source: str) -> dict:
    return {
        "piece": piece,
        "group": group,
        "start_beat": 0.0,
        "end_beat": 4.0,
        "label": "copied",
        "sources": source,
        "source_bars": "1-1",
    }


def test_a_remix_map_lists_only_its_query_pieces_sources_when_a_control_piece_has_the_same_name():
    record = {"piece": "a.mid", "copied_coverage": 1.0}
    notes = NoteMap(
        onset=np.array([0, 12]),
        duration=np.array([12, 12]),
        pitch=np.array([60, 62]),
        source=np.array([0, 0]),
        label=np.full(2, LABELS.index("copied")),
    )
    report = AnalysisReport(
        params={"min_match_notes": 5, "invariance": "transposed+tempo", "seed": 0},
        piece_records=[{**record, "group": "query"}, {**record, "group": "control"}],
        motif_records=[
            motif("a.mid", "query", "from_query.mid"),
            motif("a.mid", "control", "from_control.mid"),
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
    maps = page[page.index("<h2>Remix maps</h2>") : page.index("<h2>Pieces</h2>")]
    assert "from_query.mid" in maps and "from_control.mid" not in maps


def test_copied_notes_are_colored_by_source_and_others_by_label():
    copied, novel = LABELS.index("copied"), LABELS.index("novel")
    notes = NoteMap(
        onset=np.arange(6) * 12,
        duration=np.full(6, 12),
        pitch=np.full(6, 60),
        source=np.array([4, 2, 4, -1, 2, 4]),
        label=np.array([copied, copied, copied, novel, novel, -1]),
    )
    colors, legend = _note_colors(notes, [f"ref{i}" for i in range(5)])
    assert colors.shape == (6, 4)
    assert [name for name, _ in legend[:2]] == ["ref4", "ref2"]  # the most frequent source first
    np.testing.assert_allclose(colors[0], colors[2])
    np.testing.assert_allclose(colors[0], legend[0][1])
    np.testing.assert_allclose(colors[1], legend[1][1])
    # Not copied: the label's color, whatever the source (-1 label is an unanalysed note, shown as novel).
    np.testing.assert_allclose(colors[3], colors[4])
    np.testing.assert_allclose(colors[3], colors[5])
    assert not np.allclose(colors[3], colors[0])
