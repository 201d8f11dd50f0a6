"""How much of each piece is recombined from a reference corpus: the analysis behind ``remixmusic analyze``.

For every query piece: match its melodic lines against the reference index (:mod:`remixmusic.match`),
segment each line into motifs (:mod:`remixmusic.segment`), label every motif, measure the piece, and
score its published originality (:mod:`remixmusic.originality`). A human control, cleaned of pieces
that duplicate the reference, gets the same measures; :mod:`remixmusic.significance` compares the two.

Motif labelling rule. Each note of a line carries flags from matching: *copied* (in an exact match
longer than chance, with more information than chance matches reach and a document frequency below the
stock threshold), *varied* (in a varied copy: a near match within the edit budget), *stock* (in a
longer-than-chance match found in many reference pieces, or one with too little information: repeated
notes, scale runs; see :mod:`remixmusic.information`), *self* (in a run of at least the minimum match length that already occurred earlier in the
same piece) and *prompt* (given to the model as a prompt, from the generation sidecar). With ``share``
the fraction of the motif's notes carrying a flag, the first rule that holds gives the label:

1. ``prompt``: prompt share >= ``label_share``;
2. ``varied``: varied share >= ``label_share`` and above the copied share (a varied copy spans its exact
   parts, so a motif inside one is varied, while a motif that exact copies cover as fully stays copied);
3. ``copied``: copied share >= ``label_share``;
4. ``stock``: (copied, varied or stock) share >= ``label_share``;
5. ``self-repeat``: self share >= ``label_share``;
6. ``novel`` otherwise.

``label_share`` is 0.5 by default: a motif is what most of its notes are.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from remixmusic._util.parallel import parallel_map
from remixmusic.errors import RemixError
from remixmusic.music.lines import DEFAULT_LINES
from remixmusic.music.notes import STEPS_PER_BEAT, Piece
from remixmusic.novelty.assemble import COVERAGE_LENGTHS, PieceResult, _assemble
from remixmusic.novelty.index import Index
from remixmusic.novelty.inputs import PieceSet, read_pieces, read_sidecar
from remixmusic.novelty.labels import (
    _cover_ids,
    _most_common,
    _note_sources,
    _prompt_mask,
    _surprisal,
    _top_source_share,
)
from remixmusic.novelty.match import Matcher, match_settings
from remixmusic.novelty.matches import Match, PieceMatches, VariedMatch
from remixmusic.novelty.originality import OriginalityResult, OriginalityScorer
from remixmusic.novelty.report import LABELS, AnalysisReport, NoteMap
from remixmusic.novelty.segment import Segmenter
from remixmusic.novelty.symbols import DEFAULT_INVARIANCE

_SHORTLIST = 32  # reference pieces whose windows the originality score compares with


_SHORTLIST_OCCURRENCES = 64  # occurrences per query position that vote for the shortlist


def build_index(
    reference: object,
    invariance: str = DEFAULT_INVARIANCE,
    lines: str = DEFAULT_LINES,
    jobs: int = 0,
    show_progress: bool = True,
) -> tuple[Index, list[tuple[str, str]]]:
    """Index a MIDI folder, MIDI paths, pieces or a dataset (train split); returns the unreadable files
    of a folder or path list too, so they can be listed."""
    is_folder = isinstance(reference, (str, Path)) and Path(reference).is_dir()
    is_dataset = is_folder and any(
        (Path(reference) / m).exists() for m in ("manifest.json", "manifest.jsonl")
    )
    if (is_folder and not is_dataset) or (isinstance(reference, (list, tuple)) and reference):
        pieces = read_pieces(reference, jobs, show_progress)
        index = Index.build(pieces.pieces, invariance=invariance, lines=lines, show_progress=show_progress)
        return index, pieces.skipped
    index = Index.build(reference, invariance=invariance, lines=lines, jobs=jobs, show_progress=show_progress)
    return index, []


def resolve_index(
    reference: object, invariance: str | None, lines: str | None, jobs: int, show_progress: bool
) -> tuple[Index, list[tuple[str, str]]]:
    """An :class:`Index` from an index, a saved index folder, a MIDI folder/list or a dataset name.

    ``invariance``/``lines`` of ``None`` mean the index's own (defaults when building); asking a built
    index for other views is an error, since its streams cannot be matched with other symbols.
    """
    if isinstance(reference, (str, Path)) and (Path(reference) / "header.json").exists():
        reference = Index.load(reference)
    if isinstance(reference, Index):
        for name, wanted in (("invariance", invariance), ("lines", lines)):
            if wanted is not None and wanted != getattr(reference, name):
                raise RemixError(
                    f"the reference index was built with {name} {getattr(reference, name)!r}, not {wanted!r}; "
                    f"rebuild it with `remixmusic index ... --{name} {wanted}` or leave --{name} out"
                )
        return reference, []
    return build_index(
        reference, invariance or DEFAULT_INVARIANCE, lines or DEFAULT_LINES, jobs, show_progress
    )


class Analyzer:
    """Matching, segmentation, labelling and measures for single pieces against one reference index."""

    def __init__(
        self,
        index: Index,
        segmenter: Segmenter | None = None,
        scorer: OriginalityScorer | None = None,
        label_share: float = 0.5,
        **match_params: Any,
    ) -> None:
        self.index = index
        self.matcher = Matcher(index, **match_params)
        self.segmenter = segmenter or Segmenter()
        self.segmenter_without_surprisal = (
            Segmenter(**{**self.segmenter.params(), "method": "lbdm"})
            if self.segmenter.method == "surprisal"
            else self.segmenter
        )
        self.scorer = scorer
        self.label_share = label_share

    @property
    def min_match_notes(self) -> int:
        return self.matcher.min_length + self.index.order

    def analyze_piece(self, piece: Piece, name: str, group: str) -> PieceResult:
        pm = self.matcher.match_piece(piece)
        notes = piece.notes
        sidecar = read_sidecar(piece)
        surprisal = _surprisal(sidecar, len(notes))
        prompt = _prompt_mask(sidecar, piece)
        self_mask = self._self_repeats(pm)
        note_match = _cover_ids(len(notes), [m.notes for m in pm.matches], [m.n_notes for m in pm.matches])
        # A copied motif's provenance is its rare match's, not a longer stock one's over the same notes.
        note_rare = _cover_ids(
            len(notes),
            [m.notes for m in pm.matches],
            [m.n_notes for m in pm.matches],
            [not m.stock for m in pm.matches],
        )
        note_varied = _cover_ids(
            len(notes), [v.notes for v in pm.varied_matches], [v.matched for v in pm.varied_matches]
        )
        note_label = np.full(len(notes), -1, np.int64)
        motifs: list[dict[str, Any]] = []
        # Human pieces (the control) have no model surprisal: they fall back to LBDM, with the same
        # motif length limits, and the piece record says so.
        segmenter = self.segmenter if surprisal is not None else self.segmenter_without_surprisal
        for lm in pm.lines:
            line = lm.stream.line
            ln = notes[line.notes]
            seg = segmenter.segment(
                ln["onset"], ln["duration"], ln["pitch"], None if surprisal is None else surprisal[line.notes]
            )
            labels = self._labels(pm, line.notes, seg.starts, prompt, self_mask)
            note_label[line.notes] = np.repeat(labels, seg.ends - seg.starts)
            line_end = int((ln["onset"] + ln["duration"]).max())
            next_start = np.append(ln["onset"][seg.starts[1:]], line_end)
            for k in range(len(seg)):  # one record per motif (a few per phrase), not per note
                idx = line.notes[seg.starts[k] : seg.ends[k]]
                rec = {
                    "piece": name,
                    "group": group,
                    "motif": len(motifs),
                    "track": line.track,
                    "voice": line.voice,
                    "start_beat": float(ln["onset"][seg.starts[k]]) / STEPS_PER_BEAT,
                    "end_beat": float(next_start[k]) / STEPS_PER_BEAT,
                    "start_note": int(idx[0]),
                    "end_note": int(idx[-1]) + 1,
                    "n_notes": len(idx),
                    "label": LABELS[labels[k]],
                }
                label = LABELS[labels[k]]
                rec.update(
                    self._provenance(
                        pm, idx, label, note_rare if label == "copied" else note_match, note_varied
                    )
                )
                motifs.append(rec)
        source = _note_sources(pm, np.where(note_rare >= 0, note_rare, note_match), note_varied, note_label)
        originality = self._originality(piece, pm)
        record = self._record(name, group, piece, pm, motifs, originality)
        record["segmentation"] = segmenter.method
        note_map = NoteMap(notes["onset"], notes["duration"], notes["pitch"], source, note_label)
        return PieceResult(record, motifs, pm.coverage(COVERAGE_LENGTHS), originality, note_map)

    # -- labelling --------------------------------------------------------------------------------
    def _labels(
        self, pm: PieceMatches, idx: np.ndarray, starts: np.ndarray, prompt: np.ndarray, self_mask: np.ndarray
    ) -> np.ndarray:
        """Label code per motif of one line by the rule in the module docstring (vectorized over motifs)."""
        lengths = np.diff(np.append(starts, len(idx)))

        def share(mask: np.ndarray) -> np.ndarray:
            return np.add.reduceat(mask[idx].astype(np.float64), starts) / lengths

        t = self.label_share
        copied, varied, stock = pm.copied, pm.varied, pm.stock
        rules = [
            ("prompt", share(prompt) >= t),
            ("varied", (share(varied) >= t) & (share(varied) > share(copied))),
            ("copied", share(copied) >= t),
            ("stock", share(copied | varied | stock) >= t),
            ("self-repeat", share(self_mask) >= t),
        ]
        out = np.full(len(starts), LABELS.index("novel"), np.int64)
        for label, hit in reversed(rules):  # earlier rules win: apply them last
            out[hit] = LABELS.index(label)
        return out

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

    def _provenance(
        self, pm: PieceMatches, idx: np.ndarray, label: str, note_match: np.ndarray, note_varied: np.ndarray
    ) -> dict[str, Any]:
        """Sources, bars, transposition, match length, doc freq and edits of a motif's main match: the
        match covering most of its notes in ``note_match`` (the caller passes rare matches only for a
        copied motif)."""
        empty = {
            "sources": "",
            "source_bars": "",
            "transposition": "",
            "match_length": 0,
            "doc_freq": 0,
            "bits": "",
            "edits": "",
            "covered_share": 0.0,
        }
        if label == "varied":
            v = _most_common(note_varied[idx])
            if v >= 0:
                vm: VariedMatch = pm.varied_matches[v]
                return {
                    **empty,
                    "sources": ";".join(s.name for s in vm.sources),
                    "source_bars": ";".join(f"{s.bar_first + 1}-{s.bar_last + 1}" for s in vm.sources),
                    "transposition": vm.source.transposition,
                    "match_length": vm.end - vm.start,
                    "bits": round(vm.bits, 1),
                    "edits": vm.edits,
                    "covered_share": float(np.mean(note_varied[idx] >= 0)),
                }
        m_id = _most_common(note_match[idx])
        if m_id < 0 or label in ("novel", "self-repeat", "prompt"):
            return empty
        m: Match = pm.matches[m_id]
        return {
            **empty,
            "sources": ";".join(s.name for s in m.sources),
            "source_bars": ";".join(f"{s.bar_first + 1}-{s.bar_last + 1}" for s in m.sources),
            "transposition": m.sources[0].transposition if m.sources else "",
            "match_length": m.n_notes,
            "doc_freq": m.doc_freq,
            "bits": round(m.bits, 1),
            "edits": 0,
            "covered_share": float(np.mean(note_match[idx] >= 0)),
        }

    # -- measures ---------------------------------------------------------------------------------
    def _originality(self, piece: Piece, pm: PieceMatches) -> OriginalityResult:
        if self.scorer is None:
            empty = np.zeros(0, np.int64)
            return OriginalityResult(empty, np.zeros(0), empty, empty)
        # The sources of copies, and the pieces sharing the most matches at the query's own tempo (stock
        # matches' sources alone would be all over the corpus, as costly as the brute force).
        extra = [s.piece for m in pm.matches if not m.stock for s in m.sources]
        extra += [s.piece for v in pm.varied_matches for s in v.sources]
        return self.scorer.score(piece, np.union1d(self._shortlist(pm), np.asarray(extra, np.int64)))

    def _shortlist(self, pm: PieceMatches) -> np.ndarray:
        """The ``_SHORTLIST`` reference pieces whose windows most likely score highest against the query.

        The cardinality score counts points that one translation in time and pitch lands on the
        reference, so a candidate must share material at the same tempo. Every query position with a
        match of two or more symbols votes once for each piece among up to ``_SHORTLIST_OCCURRENCES``
        occurrences of that match (spread evenly over its suffix-array range, not the first ones, which
        the sort order biases) whose first inter-onset interval equals the query's. Against brute force
        on Essen this finds the best reference window about twice as often as ranking by one
        representative source per note.
        """
        index = self.index
        onset = pm.piece.notes["onset"].astype(np.int64)
        found = []
        for lm in pm.lines:
            at = np.flatnonzero(lm.match_length >= 2)
            lo, hi = lm.sa_lo[at], lm.sa_hi[at]
            take = np.minimum(hi - lo, _SHORTLIST_OCCURRENCES)
            owner = np.repeat(np.arange(len(at)), take)
            k = np.arange(int(take.sum())) - np.repeat(np.cumsum(take) - take, take)
            slot = np.asarray(index.sa[lo[owner] + k * (hi - lo)[owner] // take[owner]]).astype(np.int64)
            notes = lm.stream.line.notes
            q_ioi = onset[notes[np.minimum(at + 1, len(notes) - 1)]] - onset[notes[at]]
            r_ioi = np.asarray(index.onset[np.minimum(slot + 1, index.n_slots - 1)]) - np.asarray(
                index.onset[slot]
            )
            same = r_ioi == q_ioi[owner]
            found.append(np.unique(owner[same] * index.n_pieces + np.asarray(index.piece[slot[same]])))
        if not found:
            return np.zeros(0, np.int64)
        votes = np.bincount(np.concatenate(found) % index.n_pieces, minlength=index.n_pieces)
        top = np.argsort(-votes, kind="stable")[:_SHORTLIST]
        return top[votes[top] > 0]

    def _record(
        self,
        name: str,
        group: str,
        piece: Piece,
        pm: PieceMatches,
        motifs: list[dict[str, Any]],
        originality: OriginalityResult,
    ) -> dict[str, Any]:
        n_line = int(pm.in_line.sum())
        labels = [m["label"] for m in motifs]
        n_motifs = max(1, len(labels))

        def frac(*names: str) -> float:
            return sum(label in names for label in labels) / n_motifs if labels else math.nan

        rare = [m for m in pm.matches if not m.stock]
        longest = max(rare, key=lambda m: m.n_notes, default=None)
        longest_bars = ""
        if longest is not None and longest.sources:
            s = longest.sources[0]
            longest_bars = f"{s.bar_first + 1}-{s.bar_last + 1}"
        copied_sources = {
            m["sources"].split(";")[0] for m in motifs if m["label"] == "copied" and m["sources"]
        }
        q_bars = piece.bar_of(piece.notes["onset"][longest.notes]) if longest is not None else np.zeros(1)
        return {
            "piece": name,
            "group": group,
            "path": piece.source or "",
            "n_notes": len(piece.notes),
            "n_line_notes": n_line,
            "n_motifs": len(motifs),
            "copied_coverage": float(pm.copied[pm.in_line].mean()) if n_line else math.nan,
            "varied_coverage": float((pm.varied & ~pm.copied)[pm.in_line].mean()) if n_line else math.nan,
            "stock_coverage": float(pm.stock[pm.in_line].mean()) if n_line else math.nan,
            "recombined_fraction": frac("copied", "varied"),
            "copied_fraction": frac("copied"),
            "varied_fraction": frac("varied"),
            "stock_fraction": frac("stock"),
            "self_repeat_fraction": frac("self-repeat"),
            "prompt_fraction": frac("prompt"),
            "novel_fraction": frac("novel"),
            "longest_copied_notes": longest.n_notes if longest is not None else 0,
            "longest_copied_bars": int(q_bars.max() - q_bars.min() + 1) if longest is not None else 0,
            "longest_copied_source": longest.sources[0].name
            if longest is not None and longest.sources
            else "",
            "longest_copied_source_bars": longest_bars,
            "fan_in": len(copied_sources),
            "top_source_share": _top_source_share(pm),
            "originality": originality.mean,
            "originality_min": originality.minimum,
        }


_WORKER: dict[str, Analyzer] = {}


@dataclass(frozen=True)
class _Job:
    config: str  # JSON of the analyzer's settings and where its index and windows live
    piece: Piece
    name: str
    group: str


def _analyzer_from(config: str) -> Analyzer:
    if config not in _WORKER:
        c = json.loads(config)
        scorer = OriginalityScorer.load(c["windows"]) if c["windows"] else None
        _WORKER.clear()
        _WORKER[config] = Analyzer(
            Index.load(c["index"]), Segmenter(**c["segmenter"]), scorer, c["label_share"], **c["match"]
        )
    return _WORKER[config]


def _run_job(job: _Job) -> PieceResult | tuple[str, str]:
    return _analyze_or_skip(_analyzer_from(job.config), job.piece, job.name, job.group)


def _analyze_or_skip(
    analyzer: Analyzer, piece: Piece, name: str, group: str
) -> PieceResult | tuple[str, str]:
    """One piece's analysis, or ``(path, one-line reason)`` when anything in it fails: real folders hold
    files no test foresaw, and one of them must never cost the analysis of all the others."""
    try:
        return analyzer.analyze_piece(piece, name, group)
    except Exception as exc:  # any failure: reported as a skipped piece, with its reason
        message = (str(exc).strip().splitlines() or [""])[0]
        reason = message if isinstance(exc, RemixError) else f"{type(exc).__name__}: {message}"
        return (piece.source or name, f"analysis failed: {reason}")


def analyze(
    query: object,
    reference: object,
    control: object = None,
    invariance: str | None = None,
    lines: str | None = None,
    segmentation: str = "lbdm",
    originality: bool = True,
    label_share: float = 0.5,
    leak_share: float = 0.5,
    jobs: int = 0,
    seed: int = 0,
    show_progress: bool = True,
    segmenter_params: dict[str, Any] | None = None,
    **match_params: Any,
) -> AnalysisReport:
    """Analyze ``query`` pieces against ``reference``, optionally against a human ``control``.

    ``query``/``control``: a MIDI folder, MIDI paths or :class:`Piece` objects. ``reference``: an
    :class:`Index`, a saved index folder, a MIDI folder or paths, or a dataset name (its train split).
    ``invariance`` and ``lines`` choose the views when the index is built here (default
    ``transposed+tempo`` and ``melody``); a given index has its own, recorded in the report.
    (:func:`remixmusic.analyze` also accepts no reference for a folder written by ``remixmusic generate``.)
    ``match_params`` go to
    :class:`~remixmusic.match.Matcher` (``min_length``, ``stock_df``, ``max_edits`` ...).
    """
    if query is None:
        raise RemixError("give the query pieces (a MIDI folder, paths or pieces)")
    if reference is None:
        raise RemixError("give a reference (an index, a MIDI folder or a dataset name)")
    queries = read_pieces(query, jobs, show_progress)
    if not queries.pieces:
        raise RemixError(f"no readable MIDI in the query ({len(queries.skipped)} file(s) skipped)")
    controls = read_pieces(control, jobs, show_progress) if control is not None else PieceSet([], [])
    index, ref_skipped = resolve_index(reference, invariance, lines, jobs, show_progress)
    segmenter = Segmenter(segmentation, **(segmenter_params or {}))
    scorer = OriginalityScorer().fit_index(index) if originality else None
    analyzer = Analyzer(index, segmenter, scorer, label_share, **match_params)
    jobs_list = [(p, n, "query") for p, n in zip(queries.pieces, queries.names, strict=True)]
    jobs_list += [(p, n, "control") for p, n in zip(controls.pieces, controls.names, strict=True)]
    results, failed = _run_all(analyzer, index, jobs_list, jobs, show_progress)
    skipped = queries.skipped + controls.skipped + ref_skipped + failed
    return _assemble(analyzer, index, results, skipped, leak_share, seed)


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
        config = json.dumps(
            {
                "index": str(tmp / "index"),
                "windows": windows,
                "segmenter": analyzer.segmenter.params(),
                "label_share": analyzer.label_share,
                "match": match_settings(analyzer.matcher),
            }
        )
        for out in parallel_map(
            _run_job, [_Job(config, *it) for it in items], jobs, "analyzing", show_progress, chunksize=1
        ):
            (failed.append(out) if isinstance(out, tuple) else results.append(out))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results, failed


def _run_in_process(item: tuple[Analyzer, Piece, str, str]) -> PieceResult | tuple[str, str]:
    return _analyze_or_skip(*item)

