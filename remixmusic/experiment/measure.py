"""Measuring one condition: its pieces analysed against one reference index, and its quality.

Recombination: :func:`~remixmusic.novelty.analyze.analyze` on the condition's pieces against the index of
the training split (every voice, passages exact and varied, granularity and span coverage), one value of
every measure of :data:`~remixmusic.experiment.design.MEASURES` per piece. Human pieces that duplicate a
training piece (the analyser's leakage rule: half their notes matched to one training piece, Merrill et
al. 2024) are flagged and left out of every comparison.

Quality, against the human control (:data:`~remixmusic.experiment.design.QUALITY`): the classifier
two-sample test on per-piece descriptors (:mod:`remixmusic.evaluation.two_sample`), the mean overlapping
area of the descriptor distributions (Yang & Lerch 2020), and the bits per note under a judge model
independent of every generator: a Kneser-Ney 3-gram fitted on the valid split, which no generator was
trained on, so copying the training split earns nothing from it beyond style.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from remixmusic.experiment.design import HUMAN, MEASURES

if TYPE_CHECKING:
    from remixmusic.evaluation.descriptors import FolderStats
    from remixmusic.experiment.conditions import Condition
    from remixmusic.generation.baselines.ngram import NGramModel
    from remixmusic.novelty.index import Index
    from remixmusic.tokenizer.remi import RemiTokenizer


@dataclass
class Measured:
    """One condition measured: per piece (``pieces``: file names; ``groups``: tune groups; ``leaked``)
    the values of every measure (``values``: measure -> list, NaN where undefined), and the
    condition-level ``quality`` (name -> value) with the analysis ``report`` folder ("" when none)."""

    condition: str
    pieces: list[str]
    groups: list[str]
    leaked: list[bool]
    values: dict[str, list[float]]
    quality: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    report: str = ""

    def kept(self, measure: str) -> tuple[np.ndarray, list[str]]:
        """The values of ``measure`` and their tune groups, less leaked pieces."""
        keep = [not x for x in self.leaked]
        values = np.asarray(self.values[measure], np.float64)[keep]
        return values, [g for g, k in zip(self.groups, keep, strict=True) if k]

    def mean(self, measure: str) -> float:
        values, _ = self.kept(measure)
        finite = values[np.isfinite(values)]
        return float(finite.mean()) if len(finite) else math.nan

    @property
    def n(self) -> int:
        return int(sum(not x for x in self.leaked))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measured:
        values = {k: [math.nan if v is None else float(v) for v in vs] for k, vs in data["values"].items()}
        quality = {k: math.nan if v is None else float(v) for k, v in data.get("quality", {}).items()}
        return cls(
            data["condition"],
            list(data["pieces"]),
            list(data["groups"]),
            [bool(x) for x in data["leaked"]],
            values,
            quality,
            dict(data.get("info", {})),
            str(data.get("report", "")),
        )


def analyse_condition(
    condition: Condition,
    index: Index,
    *,
    human: bool,
    seed: int,
    jobs: int,
    show_progress: bool,
    report_folder: Path | None = None,
) -> Measured:
    """The per-piece measures of ``condition`` against ``index`` (leakage flagged when ``human``); the
    analysis report is saved in ``report_folder`` when given (report.html, pieces.csv, passages.csv)."""
    from remixmusic.evaluation.significance import leaked
    from remixmusic.novelty.analyze import analyze

    report = analyze(
        list(condition.pieces),
        index,
        allow_empty=True,
        seed=seed,
        jobs=jobs,
        show_progress=show_progress,
    )
    records = report.query_records()
    if report_folder is not None:
        report.save(report_folder)
    leak_share = float(report.params.get("config", {}).get("leak_share", 0.5) or 0.5)
    flags = (
        leaked(np.asarray([r.top_source_share for r in records]), leak_share)
        if human
        else np.zeros(len(records), bool)
    )
    by_name = {Path(p.source or "").name: g for p, g in zip(condition.pieces, condition.groups, strict=True)}
    names = [Path(r.path or r.piece).name for r in records]
    return Measured(
        condition.name,
        names,
        [by_name.get(n, "") or f"{condition.name}/{n}" for n in names],
        [bool(x) for x in flags],
        {key: [float(r.measure(key)) for r in records] for key, _, _ in MEASURES},
        info=dict(condition.info),
        report=str(report_folder or ""),
    )


def fit_judge(valid_sequences: list[np.ndarray], vocab_size: int, bos_id: int) -> NGramModel:
    """The judge of the module docstring: an interpolated Kneser-Ney 3-gram of the valid split."""
    from remixmusic.generation.baselines.ngram import NGramModel

    judge = NGramModel(vocab_size, bos_id, max_order=3, min_order=3)
    judge.fit(valid_sequences, valid_sequences[: max(1, len(valid_sequences) // 10)])
    judge.order_ = 3
    return judge


QUALITY_VERSION = "2"
"""Version of :func:`quality_of`, part of its cache key: "2" added the melodic order features to the
classifier two-sample test (version 1 read the descriptors only, so a reordering of a human piece's notes
looked human to it)."""


def quality_of(
    condition: Condition,
    human_stats: FolderStats,
    judge: NGramModel,
    tokenizer: RemiTokenizer,
    seed: int,
    human_melodic: np.ndarray | None = None,
) -> dict[str, float]:
    """The condition-level quality measures of :data:`~remixmusic.experiment.design.QUALITY`. The
    classifier two-sample test reads the descriptors of ``human_stats`` and, when ``human_melodic``
    (the human pieces' :func:`~remixmusic.evaluation.melodic.melodic_matrix`) is given, the melodic order
    features too, so it can tell a melody from a reordering of its notes; a feature undefined for a
    piece (e.g. post-skip reversal without a leap) takes the human pieces' median."""
    from remixmusic.data.tokens import count_notes, encode_pieces
    from remixmusic.evaluation.descriptors import DESCRIPTORS, compare, describe_pieces
    from remixmusic.evaluation.melodic import melodic_matrix
    from remixmusic.evaluation.two_sample import knn_two_sample

    pieces = [p for p in condition.pieces if len(p.notes)]
    if not pieces:
        keys = ("c2st_accuracy", "c2st_p", "quality", "descriptor_overlap", "judge_bits_per_note")
        return dict.fromkeys(keys, math.nan)
    stats = describe_pieces(pieces)
    overlap = [v for v in compare(stats, human_stats).values() if math.isfinite(v)]
    a = np.stack([stats.values[d] for d in DESCRIPTORS], axis=1)
    b = np.stack([human_stats.values[d] for d in DESCRIPTORS], axis=1)
    if human_melodic is not None:
        fill = np.nan_to_num(np.nanmedian(human_melodic, axis=0)) if len(human_melodic) else 0.0
        a = np.concatenate([a, _filled(melodic_matrix(pieces), fill)], axis=1)
        b = np.concatenate([b, _filled(human_melodic, fill)], axis=1)
    test = knn_two_sample(a, b, seed=seed) if condition.name != HUMAN else None
    seqs = encode_pieces(tokenizer, pieces)
    bits = judge.evaluate(seqs, count_notes(tokenizer, seqs)).bits_per_note
    return {
        "c2st_accuracy": test.accuracy if test else math.nan,
        "c2st_p": test.p_value if test else math.nan,
        "quality": test.indistinguishability if test else math.nan,
        "descriptor_overlap": float(np.mean(overlap)) if overlap else math.nan,
        "judge_bits_per_note": float(bits),
    }


def _filled(x: np.ndarray, fill: np.ndarray | float) -> np.ndarray:
    """``x`` with each NaN replaced by its column's ``fill`` value."""
    return np.where(np.isnan(x), np.broadcast_to(fill, x.shape), x)
