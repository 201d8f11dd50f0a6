"""The notebook API (issue 10): short displays, DataFrames, inline plots, top-level names, Index equality,
and ``examples/analyze.ipynb`` executed top to bottom in a fresh kernel."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import remixmusic
from remixmusic.data import datasets
from remixmusic.novelty.analyze import analyze
from remixmusic.novelty.index import Index
from remixmusic.novelty.records import MOTIF_COLUMNS, PASSAGE_COLUMNS, PIECE_COLUMNS
from remixmusic.novelty.report import COMPARISON_COLUMNS, MEASURES, AnalysisReport

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "analyze.ipynb"


@pytest.fixture(scope="module")
def bach() -> datasets.Dataset:
    return remixmusic.load_dataset("bach-chorales")


@pytest.fixture(scope="module")
def small(bach):
    """A real analysis, small: two training pieces (copies) and two held-out ones against 40 training
    pieces, with six held-out pieces as the control."""
    train, test = bach.pieces("train", jobs=1)[:40], bach.pieces("test", jobs=1)[:8]
    index = Index.build(train)
    report = analyze(
        train[:2] + test[6:8], index, control=test[:6], jobs=1, show_progress=False, originality=False
    )
    return index, report


def _formats(obj: object) -> dict:
    """What a fresh IPython display formatter (no matplotlib integration registered) makes of ``obj``."""
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(obj)
    return data


# -- DataFrames ---------------------------------------------------------------------------------------
def test_report_tables_are_typed_dataframes_with_the_csv_columns(small):
    _, report = small
    pieces, passages, motifs = report.pieces, report.passages, report.motifs
    for table, columns, records in (
        (pieces, PIECE_COLUMNS, report.piece_records),
        (passages, PASSAGE_COLUMNS, report.passage_records),
        (motifs, MOTIF_COLUMNS, report.motif_records),
    ):
        assert (
            isinstance(table, pd.DataFrame) and tuple(table.columns) == columns and len(table) == len(records)
        )
    assert len(passages) > 0 and set(pieces["group"]) == {"query", "control"}
    assert pieces["n_notes"].dtype == np.int64 and pieces["recombined_fraction"].dtype == np.float64
    assert pieces["leaked"].dtype == bool
    # The two training pieces are copies of the reference: wholly recombined.
    assert pieces["recombined_fraction"].iloc[:2].tolist() == [1.0, 1.0]
    # A missing motif value is a missing cell, not an empty string (the CSV writes it empty).
    assert motifs["bits"].dtype == np.float64 and str(motifs["edits"].dtype) == "Int64"
    novel = motifs[motifs["label"] == "novel"]
    assert len(novel) and novel["bits"].isna().all() and novel["edits"].isna().all()


def test_empty_tables_keep_their_columns_and_types():
    report = AnalysisReport({}, [], [], np.arange(2), {}, [], [], {}, [], [])
    for table, columns in ((report.pieces, PIECE_COLUMNS), (report.motifs, MOTIF_COLUMNS)):
        assert isinstance(table, pd.DataFrame) and len(table) == 0 and tuple(table.columns) == columns
    assert report.pieces["n_notes"].dtype == np.int64 and report.motifs["bits"].dtype == np.float64
    assert tuple(report.passages.columns) == PASSAGE_COLUMNS
    assert tuple(report.comparison_table.columns) == COMPARISON_COLUMNS and len(report.comparison_table) == 0


def test_the_comparisons_are_a_dataframe(small):
    _, report = small
    table = report.comparison_table
    assert isinstance(table, pd.DataFrame) and tuple(table.columns) == COMPARISON_COLUMNS
    # analysed with originality=False: no originality row (a reviewer read "too few pieces" for it)
    assert table["measure"].tolist() == [name for name, _ in MEASURES if name != "originality"]
    primary = table.iloc[0]
    c = report.comparisons[0]
    assert primary["role"] == "primary" and primary["n_query"] == c.n_query == 4 and primary["n_control"] == 6
    assert (primary["query_ci_low"], primary["query_ci_high"]) == c.query_ci
    assert table["p_value"].dtype == np.float64 and table["n_control_groups"].dtype == np.int64


def test_a_dataset_lists_its_pieces_as_a_dataframe(bach):
    table = bach.table()
    assert isinstance(table, pd.DataFrame) and tuple(table.columns) == datasets.TABLE_COLUMNS
    assert len(table) == len(bach.manifest) and table["n_notes"].dtype == np.int64
    test = bach.table("test")
    assert set(test["split"]) == {"test"} and len(test) == len(bach.records("test"))


# -- short displays -----------------------------------------------------------------------------------
def test_a_dataset_displays_short(bach):
    assert len(bach.manifest) > 300
    assert len(repr(bach)) < 200 and "\n" not in repr(bach) and "bach-chorales" in repr(bach)
    page = bach._repr_html_()
    assert len(page) < 5_000 and f"{len(bach.manifest)}" in page and "train" in page
    assert "text/html" in _formats(bach)


def test_an_index_displays_short(small):
    index, _ = small
    text, page = repr(index), index._repr_html_()
    assert len(text) < 300 and "\n" not in text and f"{index.n_pieces} pieces" in text
    assert len(page) < 2_000 and index.invariance in page


def test_a_report_displays_short_whatever_its_size(small):
    _, report = small
    text, page = repr(report), report._repr_html_()
    assert len(text) < 300 and "\n" not in text and "4 query" in text
    assert len(page) < 6_000 and "recombined_fraction" in page and report.comparisons[0].verdict[:40] in page
    # A thousand times the records: the display stays the same size.
    big = AnalysisReport(
        **{
            **report.__dict__,
            "piece_records": report.piece_records * 200,
            "motif_records": report.motif_records * 200,
            "passage_records": report.passage_records * 200,
        }
    )
    assert len(big._repr_html_()) < 6_000 and len(repr(big)) < 300
    assert "text/html" in _formats(big)


# -- plots --------------------------------------------------------------------------------------------
def test_plots_display_as_pictures_in_a_fresh_notebook(small):
    """The review saw ``<Figure size 1100x360 with 1 Axes>``: a bare Figure has no picture to show
    until pyplot registers one. The plots now carry their own."""
    _, report = small
    for fig in (report.plot_remix_map(0), report.plot_coverage()):
        shown = _formats(fig)
        assert shown["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
    # On the caller's own axes, the caller's figure is returned.
    from matplotlib.figure import Figure

    own = Figure()
    ax = own.add_subplot()
    assert report.plot_remix_map(0, ax=ax) is own
    assert pickle.loads(pickle.dumps(report.plot_remix_map(0))).axes  # still a plain, picklable figure


def test_a_remix_map_is_picked_by_position_or_name_and_a_bad_one_says_so(small):
    """``plot_remix_map`` takes a query piece's name as ``pieces.csv`` gives it, or its position; a
    position past the end or an unknown name was a bare IndexError or TypeError."""
    from remixmusic.errors import RemixError

    _, report = small
    name = report.query_records()[0].piece
    assert report.plot_remix_map(name).axes[0].get_title() == report.plot_remix_map(0).axes[0].get_title()
    n = len(report.query_records())
    with pytest.raises(RemixError, match=f"there are {n}"):
        report.plot_remix_map(n + 98)
    with pytest.raises(RemixError, match=r"no query piece named 'nope\.mid'"):
        report.plot_remix_map("nope.mid")


# -- top level ----------------------------------------------------------------------------------------
def test_the_notebook_names_are_at_the_top_level():
    from remixmusic.generation import loading, sampling

    assert remixmusic.Dataset is datasets.Dataset and remixmusic.load_dataset is datasets.load_dataset
    assert remixmusic.generate is sampling.generate and remixmusic.load_model is loading.load_model
    assert remixmusic.SamplingConfig is sampling.SamplingConfig
    assert {"Dataset", "generate", "load_model", "load_dataset", "analyze", "Index"} <= set(
        remixmusic.__all__
    )


# -- Index equality -----------------------------------------------------------------------------------
def test_indexes_compare_by_value(bach, tmp_path):
    pieces = bach.pieces("train", jobs=1)[:12]
    a, b = Index.build(pieces), Index.build(pieces)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    a.save(tmp_path / "index")
    for loaded in (Index.load(tmp_path / "index"), Index.load(tmp_path / "index", mmap=False)):
        assert loaded == a and hash(loaded) == hash(a)
    assert Index.build(pieces[:11]) != a
    assert Index.build(pieces, invariance="exact") != a
    assert a != "an index" and a in [b]
    other = Index.build(pieces)
    other.text = other.text.copy()
    other.text[0] += 1  # same sizes and settings, one symbol differs
    assert other != a and hash(other) == hash(a)
    assert not math.isnan(a.chance_bits)


# -- the example notebook -----------------------------------------------------------------------------
def test_the_example_notebook_is_committed_without_outputs():
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.timeout(300)
def test_the_example_notebook_runs_top_to_bottom(tmp_path):
    """``examples/analyze.ipynb`` in a fresh kernel, in an empty working folder: no errors, the displays
    are short HTML and the remix map is a picture."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError on any error
    outputs = {c.source: c.outputs for c in nb.cells if c.cell_type == "code"}

    def shown(ending: str) -> dict:
        (cell,) = [o for source, o in outputs.items() if source.rstrip().endswith(ending)]
        (result,) = [o for o in cell if o.output_type == "execute_result"]
        return result["data"]

    for ending in ("\ndataset", "\nindex", "\nreport"):
        assert len(shown(ending)["text/html"]) < 6_000
    assert "remixmusic analysis" in shown("\nreport")["text/html"]
    for ending in (".head(8)", '"bits"]]', '"magnitude"]]'):
        assert "<table" in shown(ending)["text/html"]  # DataFrames
    picture = shown(".idxmax()))")
    assert picture["image/png"] and "<Figure size" not in str(outputs)
    assert sorted(p.name for p in (tmp_path / "generated").glob("*.mid"))[0] == "piece_000.mid"


def test_an_experiment_result_displays_short_and_gives_dataframes(tmp_path):
    from remixmusic.experiment import design as D
    from remixmusic.experiment.config import ExperimentConfig
    from remixmusic.experiment.measure import Measured
    from remixmusic.experiment.questions import Answer
    from remixmusic.experiment.result import TABLE_MEASURES, ExperimentResult

    keys = [key for key, _, _ in D.MEASURES]
    names = [D.HUMAN, D.SHUFFLED, D.patchwork(1), D.transformer(1.0, 1.0)] + [f"c{i}" for i in range(40)]
    measured = {
        name: Measured(
            name,
            [f"p{i}" for i in range(300)],
            [name] * 300,
            [False] * 300,
            {key: [0.5] * 300 for key in keys},
            {"c2st_accuracy": 0.6},
        )
        for name in names
    }
    answers = [
        Answer(
            f"{q}. question {q}?", "no more than human", "the transformer sits with the human control " * 50
        )
        for q in (1, 2, 3)
    ]
    result = ExperimentResult(ExperimentConfig(), {"name": "bach-chorales"}, "", measured, answers)
    assert len(repr(result)) < 300 and "\n" not in repr(result) and "no more than human" in repr(result)
    page = result._repr_html_()
    assert len(page) < 5_000 and "no more than human" in page
    assert "text/html" in _formats(result)
    table = result.table
    assert isinstance(table, pd.DataFrame) and len(table) == len(names)
    assert set(TABLE_MEASURES) <= set(table.columns) and table["span_coverage_1"].dtype == np.float64
    assert _formats(result.plot_granularity())["image/png"][:4] == b"\x89PNG"
