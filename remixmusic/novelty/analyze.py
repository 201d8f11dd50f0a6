"""How much of each piece is recombined from a reference corpus: the analysis behind ``remixmusic analyze``.

For every query piece: match its lines against the reference index (:mod:`remixmusic.novelty.match`),
turn the matches into *passages* with boundaries from the alignment and label every note from them
(:mod:`remixmusic.novelty.passages`), measure the piece from its note labels
(:mod:`remixmusic.novelty.measures`), summarise its lines as motifs (:mod:`remixmusic.novelty.segment`),
and score its published originality (:mod:`remixmusic.novelty.originality`). A human control, cleaned of
pieces that duplicate the reference, gets the same measures; :mod:`remixmusic.evaluation.significance`
compares the two.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from remixmusic._util.arrays import ramp
from remixmusic._util.parallel import parallel_map
from remixmusic._util.text import exception_line, first_line
from remixmusic.data.tune_match import melody_duplicates
from remixmusic.errors import ConfigError, RemixError
from remixmusic.io.folders import unreadable_summary
from remixmusic.music.lines import DEFAULT_LINES, LINES_VERSION
from remixmusic.music.notes import Piece, half_onsets
from remixmusic.novelty.assemble import COVERAGE_LENGTHS, PieceResult, _assemble
from remixmusic.novelty.config import AnalysisConfig, SegmentConfig
from remixmusic.novelty.granularity import GranularityCalibration, piece_curves
from remixmusic.novelty.granularity_summary import GranularitySummary, summarize
from remixmusic.novelty.groups import inferred_tune_groups, tune_group
from remixmusic.novelty.index import Index
from remixmusic.novelty.inputs import (
    PieceSet,
    PieceSource,
    ReferenceSource,
    _resolve_reference,
    index_pieces,
    read_pieces,
    read_sidecar,
    with_timing,
)
from remixmusic.novelty.labels import (
    _prompt_mask,
    _surprisal,
    _top_source_share,
)
from remixmusic.novelty.match import Matcher
from remixmusic.novelty.matches import PieceMatches
from remixmusic.novelty.measures import motif_records, passage_records, piece_record
from remixmusic.novelty.originality import OriginalityResult, OriginalityScorer
from remixmusic.novelty.passages import build_passages, label_notes
from remixmusic.novelty.patchwork import calibrate
from remixmusic.novelty.report import AnalysisReport, NoteMap, note_map_bars
from remixmusic.novelty.segment import Segmenter
from remixmusic.novelty.symbols import DEFAULT_INVARIANCE

_SHORTLIST_OCCURRENCES = 64  # occurrences per query position tried first by the exact originality search


def build_index(
    reference: ReferenceSource,
    invariance: str = DEFAULT_INVARIANCE,
    lines: str = DEFAULT_LINES,
    jobs: int = 0,
    show_progress: bool = True,
    timing: str = "file",
) -> tuple[Index, list[tuple[str, str]]]:
    """Index a MIDI folder, MIDI paths, pieces or a dataset (train split), its pieces read under ``timing``
    (:func:`~remixmusic.novelty.inputs.with_timing`); returns the unreadable files of a folder or path
    list too, so they can be listed.

    Raises:
        RemixError: nothing readable to index, an unknown dataset, invariance or line mode.
    """
    index, skipped, _ = _build_index(reference, invariance, lines, jobs, show_progress, timing)
    return index, skipped


def _build_index(
    reference: ReferenceSource, invariance: str, lines: str, jobs: int, show_progress: bool, timing: str = "file"
) -> tuple[Index, list[tuple[str, str]], list[Piece]]:
    """:func:`build_index`, with the reference pieces indexed (in the index's piece order)."""
    midi: PieceSource | None = None  # MIDI files whose unreadable ones are listed
    if isinstance(reference, (str, Path)):
        folder = Path(reference)
        is_dataset = any((folder / m).exists() for m in ("manifest.json", "manifest.jsonl"))
        midi = reference if (folder.is_dir() and not is_dataset) or (folder.exists() and not folder.is_dir()) else None
    elif isinstance(reference, (list, tuple)) and reference:
        midi = list(reference)
    if midi is not None:
        read = read_pieces(midi, jobs, show_progress, timing)
        if not read.pieces:
            raise RemixError(f"the reference corpus has no readable pieces ({unreadable_summary(read.skipped)})")
        index = Index.build(read.pieces, invariance=invariance, lines=lines, show_progress=show_progress)
        index.timing = timing
        return index, read.skipped, read.pieces
    pieces, manifest_hash = _resolve_reference(reference, "train", jobs, show_progress)
    pieces = with_timing(pieces, timing)
    index = Index.build(pieces, invariance=invariance, lines=lines, jobs=jobs, show_progress=show_progress)
    index.manifest_hash, index.timing = manifest_hash or index.manifest_hash, timing
    return index, [], pieces


class StaleIndexWarning(UserWarning):
    """A saved reference index reads lines another way than this version reads queries (rebuild it)."""


def resolve_index(
    reference: ReferenceSource, invariance: str | None, lines: str | None, jobs: int, show_progress: bool
) -> tuple[Index, list[tuple[str, str]]]:
    """An :class:`Index` from an index, a saved index folder, a MIDI folder/list or a dataset name.

    ``invariance``/``lines`` of ``None`` mean the index's own (defaults when building); asking a built
    index for other views is an error, since its streams cannot be matched with other symbols.

    Raises:
        RemixError: a given index of other views, or nothing readable to index.
    """
    index, skipped, _ = _resolve_index(reference, invariance, lines, jobs, show_progress)
    return index, skipped


def _resolve_index(
    reference: ReferenceSource, invariance: str | None, lines: str | None, jobs: int, show_progress: bool,
    timing: str = "file",
) -> tuple[Index, list[tuple[str, str]], list[Piece] | None]:
    """:func:`resolve_index`, with the reference pieces (``None`` for a given or saved index, which
    keeps no pieces)."""
    if isinstance(reference, (str, Path)) and (Path(reference) / "header.json").exists():
        reference = Index.load(reference)
    if isinstance(reference, Index):
        _check_views(reference, invariance, lines)
        if reference.lines_version < LINES_VERSION and reference.lines in ("voices", "merged-voices"):
            warnings.warn(
                f"the reference index was saved with lines version {reference.lines_version}; queries are "
                f"read with version {LINES_VERSION} (a voice or a block chord under a held note keeps its "
                "line; a bass line), so in tracks with chords its lines may differ from the queries': rebuild the index",
                StaleIndexWarning,
                stacklevel=3,
            )
        return reference, [], None
    return _build_index(
        reference, invariance or DEFAULT_INVARIANCE, lines or DEFAULT_LINES, jobs, show_progress, timing
    )


def _check_views(index: Index, invariance: str | None, lines: str | None) -> None:
    for name, wanted in (("invariance", invariance), ("lines", lines)):
        if wanted is not None and wanted != getattr(index, name):
            raise RemixError(
                f"the reference index was built with {name} {getattr(index, name)!r}, not {wanted!r}; "
                f"rebuild it with `remixmusic index ... --{name} {wanted}` or leave --{name} out"
            )


class Analyzer:
    """Matching, segmentation, labelling and measures of single pieces against one reference index.

    ``config``: the :class:`~remixmusic.novelty.config.AnalysisConfig` (defaults when ``None``); its
    ``leak_share`` and ``seed`` act when the results are assembled. ``scorer``: a fitted
    :class:`OriginalityScorer` to use when ``config.originality`` (fitted on ``index`` when ``None``).
    ``granularity``: the index's granularity calibration (:func:`~remixmusic.novelty.patchwork.calibrate`
    when ``None``; no granularity, NaN in the records, when the index is too small to draw it from).

    Raises:
        ConfigError: ``config`` is not an ``AnalysisConfig``.
        RemixError: ``config`` asks for other views (invariance, lines) than the index's.
    """

    def __init__(
        self,
        index: Index,
        config: AnalysisConfig | None = None,
        scorer: OriginalityScorer | None = None,
        granularity: GranularityCalibration | None = None,
    ) -> None:
        if config is not None and not isinstance(config, AnalysisConfig):
            raise ConfigError(f"Analyzer config must be an AnalysisConfig, not {type(config).__name__}")
        self.config = config if config is not None else AnalysisConfig()
        _check_views(index, self.config.invariance, self.config.lines)
        self.index = index
        self.matcher = Matcher(index, self.config.match)
        segmentation = self.config.segmentation
        self.segmenter = Segmenter.from_config(segmentation)
        # Human pieces (the control) have no model surprisal: they fall back to LBDM, with the same
        # motif length limits, and the piece record says so.
        self.segmenter_without_surprisal = (
            Segmenter.from_config(replace(segmentation, method="lbdm"))
            if segmentation.method == "surprisal"
            else self.segmenter
        )
        self.scorer: OriginalityScorer | None = None
        if self.config.originality:
            self.scorer = scorer if scorer is not None else OriginalityScorer().fit_index(index)
        self.granularity = granularity if granularity is not None else _calibration(index)

    @property
    def min_match_notes(self) -> int:
        """Notes of the shortest exact match that counts (``min_length`` symbols + the view's order)."""
        return self.matcher.min_length + self.index.order

    def analyze_piece(self, piece: Piece, name: str, group: str) -> PieceResult:
        """Match one ``piece``, build its passages, label every note from them, segment its lines into
        motifs and measure it, recorded as ``name`` in ``group`` (``query`` or ``control``): the method of
        the module docstring."""
        pm = self.matcher.match_piece(piece)
        notes = piece.notes
        sidecar = read_sidecar(piece)
        surprisal = _surprisal(sidecar, len(notes))
        prompt = _prompt_mask(sidecar, piece)
        passages = build_passages(pm, self.index)
        # A line too short to hold a match above the length threshold cannot show a copy: not analysed.
        analysed = np.zeros(len(notes), bool)
        for lm in pm.lines:
            if len(lm.stream.line.notes) >= self.min_match_notes:
                analysed[lm.stream.line.notes] = True
        labels = label_notes(piece, passages, analysed, prompt, self._self_repeats(pm), self.min_match_notes)
        # Human pieces (the control) have no model surprisal: they fall back to LBDM, with the same
        # motif length limits, and the piece record says so.
        segmenter = self.segmenter if surprisal is not None else self.segmenter_without_surprisal
        lines = [lm.stream.line for lm in pm.lines]
        segmented = []
        for line in lines:
            ln = notes[line.notes]
            s = None if surprisal is None else surprisal[line.notes]
            segmented.append((line, segmenter.segment(half_onsets(ln) / 2, ln["duration"], ln["pitch"], s)))
        motifs = motif_records(name, group, piece, segmented, labels, self.config.label_share)
        passage_rows = passage_records(name, group, piece, lines, labels, self.index)
        originality = self._originality(piece, pm)
        curves = self._span_curves(pm, labels.analysed, name)
        record = piece_record(
            name,
            group,
            piece,
            lines,
            labels,
            len(motifs),
            _top_source_share(pm),
            (originality.mean, originality.minimum),
            segmenter.method,
        )
        record.tune_group = tune_group(piece)
        record.n_symbols, record.min_bits = sum(len(lm.stream.symbols) for lm in pm.lines), pm.min_bits
        record.longest_match_notes, record.longest_match_bars = self._longest_match(pm)
        exact = half_onsets(notes) / 2  # onsets (steps) with a score's half steps, as passages.csv has them
        note_map = NoteMap(exact, notes["duration"], notes["pitch"], labels.source, labels.label, *note_map_bars(piece))
        coverage = pm.coverage(COVERAGE_LENGTHS)
        return PieceResult(record, motifs, coverage, originality, note_map, passage_rows, curves)

    def _longest_match(self, pm: PieceMatches) -> tuple[int, int]:
        """The longest exact match of any kind the piece shares with the reference: its notes, and the
        most bars of the piece that a match spans (first to last note; 0, 0 when none)."""
        order = self.index.order
        bar = pm.piece.bar_of(pm.piece.notes["onset"])
        notes = bars = 0
        for lm in pm.lines:
            length = np.asarray(lm.match_length, np.int64)
            at = np.flatnonzero(length > 0)
            if not len(at):
                continue
            line = lm.stream.line.notes
            last = np.minimum(at + length[at] + order - 1, len(line) - 1)
            notes = max(notes, int((last - at + 1).max()))
            bars = max(bars, int((bar[line[last]] - bar[line[at]]).max()) + 1)
        return notes, bars

    def _span_curves(self, pm: PieceMatches, analysed: np.ndarray, name: str) -> np.ndarray | None:
        """The piece's coverage-by-span and chance curves over its ``analysed`` notes, its shuffles seeded
        by the calibration's seed and ``name`` (:func:`~remixmusic.novelty.granularity.piece_curves`;
        ``None`` without a calibration). :func:`analyze` places all pieces on the scale at once."""
        cal = self.granularity
        if cal is None:
            return None
        lines = [(lm.stream.line.notes, lm.match_length) for lm in pm.lines]
        rng = np.random.default_rng([cal.config.seed, zlib.crc32(name.encode("utf-8", "surrogateescape"))])
        return piece_curves(pm.piece, lines, analysed, self.index, cal.config.chance_notes, rng, cal.grid)

    def _self_repeats(self, pm: PieceMatches) -> np.ndarray:
        """Notes in a run of ``min_length`` symbols that already occurred earlier in the piece (any line).

        Every window of ``g`` symbols is keyed by its content; a window whose content first appeared at an
        earlier onset is a repeat, and it covers its ``g + order`` notes.
        """
        n = len(pm.piece.notes)
        g = max(1, self.matcher.min_length)
        order = self.index.order
        keys, first_onset, covers = [], [], []
        onsets = pm.piece.notes["onset"]
        for lm in pm.lines:
            sym = lm.stream.symbols.astype(np.int64)
            if len(sym) < g:
                continue
            win = np.lib.stride_tricks.sliding_window_view(sym, g)
            keys.append(win)
            first_onset.append(onsets[lm.stream.line.notes[: len(win)]])
            covers.append(lm.stream.line.notes[np.arange(len(win))[:, None] + np.arange(g + order)])
        mask = np.zeros(n, bool)
        if not keys:
            return mask
        all_keys = np.concatenate(keys)
        onset = np.concatenate(first_onset)
        _, inverse = np.unique(all_keys, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        earliest = np.full(inverse.max() + 1, np.iinfo(np.int64).max)
        np.minimum.at(earliest, inverse, onset.astype(np.int64))
        repeat = onset > earliest[inverse]
        mask[np.concatenate(covers)[repeat].ravel()] = True
        return mask

    def _originality(self, piece: Piece, pm: PieceMatches) -> OriginalityResult:
        if self.scorer is None:
            empty = np.zeros(0, np.int64)
            return OriginalityResult(empty, np.zeros(0), empty, empty)
        # Exact (equal to the brute force); the match occurrences only tell the search where to start.
        return self.scorer.score(piece, self._shortlist(pm))

    def _shortlist(self, pm: PieceMatches) -> np.ndarray:
        """Translations the exact originality search tries first: (query onset, reference piece,
        reference minus query onset, reference minus query pitch), one per occurrence of a match.

        The cardinality score counts points that one translation in time and pitch lands on the
        reference, so a good start shares material at the same tempo. For every query position with a
        match of two or more symbols, up to ``_SHORTLIST_OCCURRENCES`` occurrences of that match (spread
        evenly over its suffix-array range, not the first ones, which the sort order biases) whose first
        inter-onset interval equals the query's give the translation aligning the two notes. Returns an
        (m, 4) int64 array, distinct rows.
        """
        index = self.index
        notes_all = pm.piece.notes
        onset = notes_all["onset"].astype(np.int64)
        pitch = notes_all["pitch"].astype(np.int64)
        ref_onset = np.asarray(index.onset)
        found = [np.zeros((0, 4), np.int64)]
        for lm in pm.lines:
            at = np.flatnonzero(lm.match_length >= 2)
            lo, hi = lm.sa_lo[at], lm.sa_hi[at]
            take = np.minimum(hi - lo, _SHORTLIST_OCCURRENCES)
            owner = np.repeat(np.arange(len(at)), take)
            k = ramp(take)
            slot = np.asarray(index.sa[lo[owner] + k * (hi - lo)[owner] // take[owner]]).astype(np.int64)
            notes = lm.stream.line.notes
            q_ioi = onset[notes[np.minimum(at + 1, len(notes) - 1)]] - onset[notes[at]]
            r_ioi = ref_onset[np.minimum(slot + 1, index.n_slots - 1)] - ref_onset[slot]
            same = r_ioi == q_ioi[owner]
            slot, note = slot[same], notes[at][owner[same]]
            found.append(
                np.stack(
                    [
                        onset[note],
                        np.asarray(index.piece)[slot].astype(np.int64),
                        ref_onset[slot].astype(np.int64) - onset[note],
                        np.asarray(index.pitch)[slot].astype(np.int64) - pitch[note],
                    ],
                    axis=1,
                )
            )
        return np.unique(np.concatenate(found), axis=0)


@dataclass(frozen=True)
class _Setup:
    """What a worker process rebuilds its analyzer from: the saved index and originality windows ("" for
    none) and the config, its matching thresholds resolved in the parent."""

    index: str
    windows: str
    config: AnalysisConfig
    granularity: str = ""  # the saved granularity calibration ("" none)


_WORKER: dict[_Setup, Analyzer] = {}


@dataclass(frozen=True)
class _Job:
    setup: _Setup
    piece: Piece
    name: str
    group: str


def _analyzer_from(setup: _Setup) -> Analyzer:
    if setup not in _WORKER:
        scorer = OriginalityScorer.load(setup.windows) if setup.windows else None
        _WORKER.clear()
        calibration = GranularityCalibration.load(setup.granularity) if setup.granularity else None
        _WORKER[setup] = Analyzer(Index.load(setup.index), setup.config, scorer, calibration)
    return _WORKER[setup]


def _run_job(job: _Job) -> PieceResult | tuple[str, str]:
    return _analyze_or_skip(_analyzer_from(job.setup), job.piece, job.name, job.group)


def _analyze_or_skip(
    analyzer: Analyzer, piece: Piece, name: str, group: str
) -> PieceResult | tuple[str, str]:
    """One piece's analysis, or ``(path, one-line reason)`` when anything in it fails: real folders hold
    files no test foresaw, and one of them must never cost the analysis of all the others."""
    try:
        return analyzer.analyze_piece(piece, name, group)
    except Exception as exc:  # any failure: reported as a skipped piece, with its reason
        user_error = isinstance(exc, RemixError)  # its message says it all; other errors get their type
        reason = first_line(str(exc), type(exc).__name__) if user_error else exception_line(exc)
        return (piece.source or name, f"analysis failed: {reason}")


def analyze(
    query: PieceSource,
    reference: ReferenceSource,
    control: PieceSource | None = None,
    config: AnalysisConfig | None = None,
    *,
    invariance: str | None = None,
    lines: str | None = None,
    segmentation: str | SegmentConfig | None = None,
    originality: bool | None = None,
    label_share: float | None = None,
    leak_share: float | None = None,
    seed: int | None = None,
    segmenter_params: Mapping[str, Any] | None = None,
    jobs: int = 0,
    show_progress: bool = True,
    allow_empty: bool = False,
    **match_params: Any,
) -> AnalysisReport:
    """Analyze ``query`` pieces against ``reference``, optionally against a human ``control``: the method
    of the module docstring, returned as an :class:`AnalysisReport` (per piece and motif records,
    coverage curves, query-vs-control statistics, the config and what it resolved to).

    ``query``/``control``: a MIDI folder, MIDI paths or :class:`Piece` objects. ``reference``: an
    :class:`Index`, a saved index folder, a MIDI folder or paths, or a dataset name (its train split).
    ``config``: every setting, as an :class:`~remixmusic.novelty.config.AnalysisConfig` (defaults when
    ``None``); the keyword options override its fields for this call (``None`` leaves a field as it is):
    ``invariance`` and ``lines`` choose the views when the index is built here (default
    ``transposed+tempo`` and ``voices``; a given index has its own, recorded in the report),
    ``segmentation`` a method name or a ``SegmentConfig``, ``segmenter_params`` other ``SegmentConfig``
    fields, ``match_params`` any :class:`~remixmusic.novelty.config.MatchConfig` field (``min_length``,
    ``max_edits`` ...) or ``timing="tracked"`` (free timing re-quantized). ``jobs``: processes (0: per core).
    ``allow_empty``: a query with no readable piece gives a report with no query pieces (the experiment
    uses it for a model that wrote only empty pieces) instead of an error.
    (:func:`remixmusic.analyze` also accepts no reference for a folder written by ``remixmusic generate``.)

    Raises:
        ConfigError: ``config`` not an ``AnalysisConfig``, an unknown option or an invalid value.
        RemixError: no query or reference, no readable query piece, a control given with no readable
            piece, or a given index of other views.
    """
    if config is not None and not isinstance(config, AnalysisConfig):
        raise ConfigError(f"config must be an AnalysisConfig, not {type(config).__name__}")
    config = (config or AnalysisConfig()).with_options(
        invariance=invariance,
        lines=lines,
        segmentation=segmentation,
        originality=originality,
        label_share=label_share,
        leak_share=leak_share,
        seed=seed,
        segmenter_params=segmenter_params,
        **match_params,
    )
    if query is None:
        raise RemixError("give the query pieces (a MIDI folder, paths or pieces)")
    if reference is None:
        raise RemixError("give a reference (an index, a MIDI folder or a dataset name)")
    queries = read_pieces(query, jobs, show_progress, config.timing)
    if not queries.pieces and not allow_empty:
        raise RemixError(queries.none_read("query"))
    controls = read_pieces(control, jobs, show_progress, config.timing) if control is not None else PieceSet([], [])
    if control is not None and not controls.pieces and not allow_empty:
        raise RemixError(f"{controls.none_read('control')}: give a folder of human pieces, or leave --control out")
    index, ref_skipped, ref_pieces = _resolve_index(
        reference, config.invariance, config.lines, jobs, show_progress, config.timing
    )
    analyzer = Analyzer(index, config)
    jobs_list = [(p, n, "query") for p, n in zip(queries.pieces, queries.names, strict=True)]
    jobs_list += [(p, n, "control") for p, n in zip(controls.pieces, controls.names, strict=True)]
    results, failed = _run_all(analyzer, index, jobs_list, jobs, show_progress)
    _group_tunes(results, queries, controls)
    skipped = queries.skipped + controls.skipped + ref_skipped + failed
    _place_pieces(analyzer, results)
    if ref_pieces is None and controls.pieces:  # a given or saved index: its pieces read again, if at hand
        ref_pieces = index_pieces(index, jobs)
    report = _assemble(analyzer, index, results, skipped, _tunes(index, ref_pieces, controls))
    report.granularity = _granularity_summary(analyzer, results)
    report.repaired = queries.repaired + controls.repaired
    report.off_grid = queries.off_grid + controls.off_grid
    return report


def _group_tunes(results: list[PieceResult], queries: PieceSet, controls: PieceSet) -> None:
    """Tune groups of the query and of the control pieces that no manifest names, each side grouped among
    itself by the near-duplicate rule (:func:`~remixmusic.novelty.groups.inferred_tune_groups`)."""
    for side, pieces in (("query", queries), ("control", controls)):
        mine = [r for r in results if r.record.group == side]
        by_name = dict(zip(pieces.names, pieces.pieces, strict=True))
        mine = [r for r in mine if r.record.piece in by_name]
        labels = inferred_tune_groups(
            [by_name[r.record.piece] for r in mine], [r.record.piece for r in mine], [r.record.tune_group for r in mine]
        )
        for r, label in zip(mine, labels, strict=True):
            r.record.tune_group = label


def _tunes(index: Index, reference: list[Piece] | None, controls: PieceSet) -> dict[str, str] | None:
    """The control pieces that carry the tune of a reference piece (the same-tune rule of dataset
    splits on their melodies, :func:`~remixmusic.data.tune_match.melody_duplicates`), by name, with the
    reference piece's name; ``None`` when the reference pieces are not at hand (an index whose
    source files are gone)."""
    if reference is None:
        return None
    if not controls.pieces:
        return {}
    found = melody_duplicates(reference, controls.pieces)
    return {name: index.piece_names[int(j)] for name, j in zip(controls.names, found, strict=True) if j >= 0}


def _calibration(index: Index) -> GranularityCalibration | None:
    """The index's granularity calibration, or ``None`` when it has too few single-meter lines."""
    try:
        return calibrate(index)
    except RemixError:
        return None


def _place_pieces(analyzer: Analyzer, results: list[PieceResult]) -> None:
    """Every piece's ``granularity_bars`` and ``granularity_share`` from its curves, in one batch."""
    placed = [r for r in results if r.span_curve is not None]
    if analyzer.granularity is None or not placed:
        return
    curves = np.asarray([r.span_curve for r in placed])
    estimate = analyzer.granularity.estimate(curves[:, 0], curves[:, 1])
    at = [int(np.argmin(np.abs(analyzer.granularity.grid - b))) for b in (1, 2, 4)]
    for r, bars, share in zip(placed, estimate.bars, estimate.share, strict=True):
        r.record.granularity_bars, r.record.granularity_share = float(bars), float(share)
        curve = np.asarray(r.span_curve)[0]
        r.record.span_coverage_1, r.record.span_coverage_2, r.record.span_coverage_4 = (
            float(curve[i]) for i in at
        )


def _granularity_summary(analyzer: Analyzer, results: list[PieceResult]) -> GranularitySummary | None:
    """Query and control (less leaked pieces) on the granularity scale, resampled by tune group."""
    if analyzer.granularity is None:
        return None
    kept = {
        g: [r for r in results if r.record.group == g and not r.record.excluded and r.span_curve is not None]
        for g in ("query", "control")
    }
    return summarize(
        analyzer.granularity,
        {g: np.asarray([r.span_curve for r in rs]) for g, rs in kept.items() if rs},
        {g: [r.record.tune_group for r in rs] for g, rs in kept.items() if rs},
        seed=analyzer.config.seed,
    )


def _run_all(
    analyzer: Analyzer, index: Index, items: list[tuple[Piece, str, str]], jobs: int, show_progress: bool
) -> tuple[list[PieceResult], list[tuple[str, str]]]:
    """Analyze every piece, in worker processes when ``jobs != 1`` (they memory-map a saved index)."""
    results: list[PieceResult] = []
    failed: list[tuple[str, str]] = []
    if jobs == 1 or len(items) < 2:
        outputs: Iterable[PieceResult | tuple[str, str]] = parallel_map(
            _run_in_process, [(analyzer, *it) for it in items], 1, "analyzing", show_progress
        )
        for out in outputs:
            (failed.append(out) if isinstance(out, tuple) else results.append(out))
        return results, failed
    tmp = Path(tempfile.mkdtemp(prefix="remixmusic-analyze-"))
    try:
        index.save(tmp / "index")
        windows = ""
        if analyzer.scorer is not None:
            windows = str(tmp / "windows.npz")
            analyzer.scorer.save(windows)
        granularity = ""
        if analyzer.granularity is not None:
            granularity = str(analyzer.granularity.save(tmp / "granularity.json"))
        config = replace(analyzer.config, match=analyzer.matcher.config)
        setup = _Setup(str(tmp / "index"), windows, config, granularity)
        for out in parallel_map(
            _run_job, [_Job(setup, *it) for it in items], jobs, "analyzing", show_progress, chunksize=1
        ):
            (failed.append(out) if isinstance(out, tuple) else results.append(out))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results, failed


def _run_in_process(item: tuple[Analyzer, Piece, str, str]) -> PieceResult | tuple[str, str]:
    return _analyze_or_skip(*item)
