"""Granularity benchmark: does the recombination granularity recover the chunk size of known patchworks?

The reference index is a built corpus's train split (default essen; ``remixmusic dataset build essen``
first). The granularity calibration (:func:`remixmusic.novelty.patchwork.calibrate`) draws its own
patchworks from the index with :class:`~remixmusic.novelty.granularity.GranularityConfig`'s seed; the
evaluation sets here come from another generator and another seed
(:meth:`remixmusic.evaluation.planted.PlantedSetMaker.make_patchworks`, ``--seed``): 1, 2, 4 and 8-bar
patchworks of the train split's melodies, shuffled and random null pieces, and held-out human pieces
(the test split). The maker sees each train piece reduced to its named melody part (a chorale's
Soprano), so its chunks are lines the index holds (the skyline of all parts would not be). Every set
goes through :func:`remixmusic.novelty.analyze.analyze`, as a user's folder would.

Printed per set: the group's level, recombined share and granularity in bars (bootstrap 95% intervals),
and per piece the share placed at the true level and within one step of it (steps: below 1 bar, 1, 2,
4, 8+ bars). Then the cost: ``analyze`` on 100 pieces with and without the granularity, in this
process (best of ``--repeat``), with the originality score off and on, and the calibration's own time.
With ``--infinigram``: the ∞-gram of bach-chorales at several context lengths (``--contexts``),
sampled with the shipped tokenizer and analysed against the same train split on the melody line,
placed on the scale (the optional pure-recombination family of issue 8; it needs torch, so it lives
here and not in :mod:`remixmusic.novelty`).

    python benchmarks/granularity.py                       # essen, 60 pieces per set
    python benchmarks/granularity.py --dataset bach-chorales --n 40 --infinigram
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

import numpy as np

import remixmusic.novelty.analyze as analysis
from remixmusic.data.datasets import load_dataset
from remixmusic.evaluation.planted import PlantedSetMaker
from remixmusic.music.lines import melody_track
from remixmusic.music.notes import Piece
from remixmusic.novelty.granularity import (
    BELOW_ONE_BAR,
    GranularityCalibration,
    GranularityConfig,
    granularity_level,
    level_step,
)
from remixmusic.novelty.index import Index
from remixmusic.novelty.patchwork import calibrate
from remixmusic.novelty.report import AnalysisReport


def piece_levels(report: AnalysisReport, calibration: GranularityCalibration) -> list[str]:
    """The granularity level of each query piece of ``report``, from its record's bars and share."""
    chunks, min_share = calibration.chunk_bars, calibration.config.min_share
    return [
        granularity_level(r.granularity_share, r.granularity_bars, chunks, min_share)
        for r in report.query_records()
    ]


def score_set(
    name: str, pieces: Sequence[Piece], truth: str | None, index: Index, calibration: GranularityCalibration
) -> dict[str, float]:
    """Analyse one set and print its line; returns the per-piece exact and within-one-step shares."""
    t = time.perf_counter()
    report = analysis.analyze(list(pieces), index, originality=False, jobs=1, show_progress=False)
    elapsed = time.perf_counter() - t
    levels = piece_levels(report, calibration)
    assert report.granularity is not None
    group = report.granularity.groups["query"]
    ordered = sorted(set(levels), key=lambda x: level_step(x, calibration.chunk_bars))
    counts = {lv: levels.count(lv) for lv in ordered}
    bars = f"bars {group.bars:5.2f} [{group.bars_ci[0]:.2f}, {group.bars_ci[1]:.2f}]"
    line = (
        f"{name:24s} group {group.level:11s} share {group.share:.2f} [{group.share_ci[0]:.2f}, "
        f"{group.share_ci[1]:.2f}]  {bars if np.isfinite(group.bars_ci[0]) else 'bars n/a':29s}"
    )
    out = {"exact": float("nan"), "within_one": float("nan")}
    if truth is not None:
        want = level_step(truth, calibration.chunk_bars)
        steps = np.asarray([level_step(lv, calibration.chunk_bars) for lv in levels])
        out = {
            "exact": float(np.mean(steps == want)),
            "within_one": float(np.mean(np.abs(steps - want) <= 1)),
        }
        line += f"  per piece: exact {out['exact']:.2f}, within one step {out['within_one']:.2f}"
    print(f"{line}  {counts}  ({len(pieces)} pieces, {elapsed:.1f} s)")
    return out


def melody_part(piece: Piece) -> Piece:
    """The piece reduced to the track its source names as the melody, when it names one."""
    k = melody_track(piece)
    return piece if k is None else piece.with_notes(piece.notes[piece.notes["track"] == k])


def best_times(fns: Sequence[Callable[[], object]], repeat: int) -> list[float]:
    """Best wall time of each of ``fns`` over ``repeat`` rounds, run in turn within each round (so a
    change of machine load weighs on all of them alike); seconds."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t)
    return best


def cost(pieces: Sequence[Piece], index: Index, repeat: int) -> None:
    """``analyze`` of ``pieces`` with and without the granularity (the baseline: the analyzer with no
    calibration), best of ``repeat``, without and with the originality score (the default), and the
    calibration itself on a cold cache."""
    import remixmusic.novelty.patchwork as patchwork

    real = analysis._calibration

    def without(run: Callable[[], object]) -> Callable[[], object]:
        def go() -> object:
            analysis._calibration = lambda _index: None
            try:
                return run()
            finally:
                analysis._calibration = real

        return go

    for originality in (False, True):

        def run(originality: bool = originality) -> object:
            return analysis.analyze(list(pieces), index, originality=originality, jobs=1, show_progress=False)

        base, with_granularity = best_times([without(run), run], repeat)
        print(
            f"cost on {len(pieces)} pieces (analyze, originality {'on' if originality else 'off'}, 1 job, "
            f"best of {repeat}, interleaved): without granularity {base:.2f} s, with it "
            f"{with_granularity:.2f} s (x{with_granularity / base:.3f})"
        )
    patchwork._CACHE.clear()
    print(f"calibration: {best_times([lambda: calibrate(index)], 1)[0]:.2f} s once per index (memoized)")


def infinigram_rows(
    contexts: Sequence[int | None], n: int, bars: int, index: Index, calibration: GranularityCalibration
) -> None:
    """Sample ``n`` pieces from the bach-chorales ∞-gram at each context and place each set on the scale."""
    from remixmusic.data.tokens import training_data
    from remixmusic.generation.baselines.infinigram import InfiniGram
    from remixmusic.generation.checkpoint_info import default_checkpoint_path, read_info
    from remixmusic.generation.sampling import SamplingConfig, generate

    data = training_data("bach-chorales", read_info(default_checkpoint_path()).tokenizer_config, jobs=1)
    tok = data.tokenizer
    model = InfiniGram(tok.vocab_size, tok.bos_id, None, tok.grammar())
    model.fit(data.train)
    for context in contexts:
        model.max_context = context
        sampling = SamplingConfig(n=n, bars=bars, seed=0, batch_size=n)
        pieces = [g.piece for g in generate(model, tok, sampling)]
        score_set(f"∞-gram context {context or 'unbounded'}", pieces, None, index, calibration)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="essen")
    ap.add_argument("--n", type=int, default=60, help="pieces per set")
    ap.add_argument("--seed", type=int, default=1, help="evaluation sets (the calibration keeps its own)")
    ap.add_argument("--jobs", type=int, default=1, help="processes reading the corpus")
    ap.add_argument("--repeat", type=int, default=3, help="timing rounds of the cost lines")
    ap.add_argument("--infinigram", action="store_true", help="also place bach-chorales ∞-gram samples")
    ap.add_argument("--contexts", default="4,8,16,32,0", help="∞-gram contexts in tokens (0: unbounded)")
    args = ap.parse_args()
    if args.seed == GranularityConfig().seed:
        ap.error(f"--seed {args.seed} is the calibration's own seed: evaluation sets must be drawn apart")

    t0 = time.perf_counter()
    ds = load_dataset(args.dataset)
    train, test = ds.pieces("train", jobs=args.jobs), ds.pieces("test", jobs=args.jobs)
    index = Index.build(train)
    t1 = time.perf_counter()
    calibration = calibrate(index)
    print(
        f"reference: {args.dataset} train, {index.n_pieces} pieces (index {t1 - t0:.1f} s); calibration "
        f"members {', '.join(calibration.members)} of {calibration.n_pieces} pieces each, seed "
        f"{calibration.config.seed} ({time.perf_counter() - t1:.2f} s); evaluation seed {args.seed}"
    )
    maker = PlantedSetMaker([melody_part(p) for p in train], seed=args.seed)
    null = maker.make_null(2 * args.n)
    truth = {c: granularity_level(1.0, float(c), calibration.chunk_bars, 0.0) for c in (1, 2, 4, 8)}
    results = {}
    for chunk in (1, 2, 4, 8):
        pieces = [p.piece for p in maker.make_patchworks(args.n, chunk)]
        results[chunk] = score_set(f"patchwork {chunk} bar(s)", pieces, truth[chunk], index, calibration)
    score_set("shuffled", [p.piece for p in null if p.kind == "shuffled"], BELOW_ONE_BAR, index, calibration)
    score_set("random walk", [p.piece for p in null if p.kind == "random"], BELOW_ONE_BAR, index, calibration)
    score_set("held-out human (test)", test[: args.n], None, index, calibration)
    ok = all(results[c]["within_one"] == 1.0 for c in (1, 2, 4))
    verdict = "yes" if ok else "NO"
    print(f"done-when (1, 2 and 4-bar patchworks: every piece within one step of its chunk size): {verdict}")
    cost((test + train)[:100], index, args.repeat)
    if args.infinigram:
        # The ∞-gram writes all four voices into one track, which the default per-track voice lines split
        # by pitch rank, unlike the reference's one part per track: read both by their melody.
        bach = Index.build(load_dataset("bach-chorales").pieces("train", jobs=args.jobs), lines="melody")
        contexts = [int(c) or None for c in args.contexts.split(",")]
        infinigram_rows(contexts, min(args.n, 24), 16, bach, calibrate(bach))


if __name__ == "__main__":
    main()
