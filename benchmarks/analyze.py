"""Analysis engine speed: building the reference index and matching queries, with in-process baselines.

Section ``index`` (issue 4, sections 2-3):

- build: notes/s of :meth:`Index.build` on an Essen-size corpus (8,400 tunes, about 420,000 notes; the
  real ``essen`` dataset when it is built under ``datasets/``, otherwise random-walk tunes of Essen-like
  length), and the suffix-array sort alone against a comparison sort of the suffixes (Python ``sorted``
  on the suffix tuples) on the first 20,000 slots;
- match: query notes/s of :meth:`Matcher.match_pieces` (batched) against :meth:`Matcher.match_piece`
  one at a time, exact matching only and with varied copies, and against a brute-force scan of every
  reference line for the matching statistics on a small sample.

Section ``analysis`` (issue 4, sections 4-7): index build notes/s of the reference, the time to analyze
100 held-out pieces against the ``essen`` train split (``bach-chorales`` when ``essen`` is not built, and
it says so), and the ratio against the brute-force window-against-window originality report of Yin et al.
on the same work: by default on all the pieces (``--brute N`` runs it on the first N and extrapolates
in query window points, printed as such), with the share of windows where the exact originality equals
the brute-force one (target: at least 99.9%) and its speed ratio (target: at least 100x), timed inside
the analyzer (``--jobs 1``; the one-time pair index build is printed apart).

Run: ``python benchmarks/analyze.py [--section index|analysis|all] [--tunes 8400] [--pieces 100]
[--brute 100]``
"""

from __future__ import annotations

import sys

# Run as a script, this folder leads sys.path and its tokenize.py would shadow the standard library's.
if sys.path and sys.path[0] == __file__.rpartition("/")[0]:
    sys.path.pop(0)

import argparse
import time
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from remixmusic._util.suffix_array import suffix_array
from remixmusic.music.notes import NOTE_DTYPE, Piece
from remixmusic.novelty.index import Index
from remixmusic.novelty.match import Matcher


def random_tunes(n: int, seed: int = 0) -> list[Piece]:
    """Random-walk tunes of 25-80 notes with folk-like rhythms (stand-in when ``essen`` is not built)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(25, 80))
        notes = np.zeros(k, NOTE_DTYPE)
        notes["pitch"] = np.clip(67 + np.cumsum(rng.choice([-4, -3, -2, -1, 0, 1, 2, 3, 4], k)), 40, 96)
        ioi = rng.choice([6, 12, 12, 12, 18, 24, 36], k)
        notes["onset"] = np.cumsum(ioi) - ioi[0]
        notes["duration"], notes["velocity"] = ioi, 80
        out.append(Piece(notes=notes))
    return out


def reference_corpus(tunes: int) -> tuple[str, list[Piece]]:
    try:
        from remixmusic.data.datasets import load_dataset

        return "essen", load_dataset("essen").pieces(split=None)
    except Exception:  # not built here: fall back to the synthetic corpus, and say so
        return f"random-walk x{tunes}", random_tunes(tunes)


def comparison_sort_sa(text: np.ndarray) -> list[int]:
    """Baseline suffix array: Python's sort on each suffix up to its first separator."""
    values = text.tolist()
    ends = np.flatnonzero(text < 0)
    stop = ends[np.searchsorted(ends, np.arange(len(text)))].tolist()
    return sorted(range(len(values)), key=lambda i: values[i : stop[i]])


def brute_matching_statistics(index: Index, query: np.ndarray) -> np.ndarray:
    """Baseline matching statistics: compare the query with every reference position."""
    text = np.asarray(index.text)
    out = np.zeros(len(query), np.int64)
    for i in range(len(query)):
        alive = np.flatnonzero(text == query[i])
        k = 0
        while len(alive):
            k += 1
            if i + k >= len(query):
                break
            alive = alive[text[np.minimum(alive + k, len(text) - 1)] == query[i + k]]
        out[i] = k
    return out


def bench_index(console: Console, tunes: int) -> None:
    name, corpus = reference_corpus(tunes)
    n_notes = sum(len(p) for p in corpus)
    t = time.perf_counter()
    index = Index.build(corpus, show_progress=True)
    build = time.perf_counter() - t
    sample = np.asarray(index.text[:20_000]).copy()
    sample[-1] = -1
    t = time.perf_counter()
    suffix_array(sample)
    fast = time.perf_counter() - t
    t = time.perf_counter()
    comparison_sort_sa(sample)
    slow = time.perf_counter() - t

    queries = random_tunes(60, seed=1)
    rng = np.random.default_rng(2)
    for q in queries[:30]:  # half the queries quote 12-note stretches of the reference
        src = corpus[int(rng.integers(len(corpus)))].notes
        m = min(12, len(src), len(q.notes))
        a = int(rng.integers(0, len(src) - m + 1))
        q.notes["pitch"][:m] = src["pitch"][a : a + m]
    n_query = sum(len(q) for q in queries)
    rows = []
    for near in (False, True):
        matcher = Matcher(index, near=near)
        t = time.perf_counter()
        matcher.match_pieces(queries)
        batched = time.perf_counter() - t
        t = time.perf_counter()
        for q in queries:
            matcher.match_piece(q)
        single = time.perf_counter() - t
        rows.append((near, batched, single))
    symbols = [s.symbols for q in queries[:3] for s in index.streams(q)]
    t = time.perf_counter()
    for s in symbols:
        index.matching_statistics(s)
    ms_fast = time.perf_counter() - t
    t = time.perf_counter()
    for s in symbols:
        brute_matching_statistics(index, s)
    ms_slow = time.perf_counter() - t

    table = Table(title=f"index: {name}, {len(corpus)} pieces, {n_notes} notes, {index.n_slots} slots")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("baseline ratio", justify="right")
    table.add_row("build (notes/s)", f"{n_notes / build:,.0f}", "")
    table.add_row("memory (bytes/slot)", f"{index.nbytes / index.n_slots:.1f}", "")
    table.add_row("chance length (symbols)", str(index.chance_length), "")
    table.add_row("chance information (bits)", f"{index.chance_bits:.1f}", "")
    table.add_row("suffix array, 20k slots (s)", f"{fast:.3f}", f"{slow / fast:.1f}x vs comparison sort")
    for near, batched, single in rows:
        label = "match with varied copies" if near else "match exact only"
        table.add_row(
            f"{label} (query notes/s)", f"{n_query / batched:,.0f}", f"{single / batched:.1f}x vs one by one"
        )
    table.add_row(
        "matching statistics (s)", f"{ms_fast:.4f}", f"{ms_slow / ms_fast:.0f}x vs brute-force scan"
    )
    console.print(table)


def bench_analysis(console: Console, n_pieces: int, n_brute: int, jobs: int) -> None:
    """Section ``analysis``: 100 held-out pieces against the essen train split (bach-chorales when essen
    is not built), and the brute-force window-against-window originality report of Yin et al. on the same
    work, run on ``n_brute`` pieces and extrapolated in query window points (printed as such): the speed
    ratio of the exact originality against it and the share of windows where the two are equal."""
    from remixmusic.data.datasets import load_dataset
    from remixmusic.errors import DatasetError
    from remixmusic.novelty.analyze import Analyzer, analyze
    from remixmusic.novelty.matches import PieceMatches
    from remixmusic.novelty.originality import OriginalityResult, OriginalityScorer, point_set, query_windows
    from remixmusic.novelty.translations import TranslationIndex

    print = console.print
    try:
        ds = load_dataset("essen")
    except DatasetError as exc:
        print(f"essen unavailable ({exc}); FALLING BACK to bach-chorales")
        ds = load_dataset("bach-chorales")
    train = ds.pieces("train")
    held_out = ds.pieces("valid") + ds.pieces("test")
    queries = [held_out[i % len(held_out)].transpose(i // len(held_out)) for i in range(n_pieces)]
    n_ref_notes = sum(len(p) for p in train)
    print(f"reference: {ds.name} train split, {len(train)} pieces, {n_ref_notes} notes")

    t = time.perf_counter()
    index = Index.build(train)
    build_s = time.perf_counter() - t
    print(
        f"index build: {build_s:.2f} s, {index.n_slots / build_s:,.0f} indexed notes/s "
        f"({n_ref_notes / build_s:,.0f} input notes/s), {index.nbytes / index.n_slots:.1f} bytes per indexed "
        f"note, chance length {index.chance_length} symbols, chance information {index.chance_bits:.1f} bits"
    )

    # Time the originality step itself: the analyzer's _originality (hints from the matches + exact
    # search) in this process, and apart from it the one-time build of the pair index it searches.
    clock = {"orig": 0.0, "orig_cpu": 0.0, "build": 0.0, "build_cpu": 0.0}
    originality_step = Analyzer._originality
    build_pairs = TranslationIndex.__init__

    def timed_originality(self: Analyzer, piece: Piece, pm: PieceMatches) -> OriginalityResult:
        t, c = time.perf_counter(), time.process_time()
        out = originality_step(self, piece, pm)
        clock["orig"] += time.perf_counter() - t
        clock["orig_cpu"] += time.process_time() - c
        return out

    def timed_build(self: TranslationIndex, *args: Any, **kwargs: Any) -> None:
        t, c = time.perf_counter(), time.process_time()
        build_pairs(self, *args, **kwargs)
        clock["build"] += time.perf_counter() - t
        clock["build_cpu"] += time.process_time() - c

    Analyzer._originality = timed_originality  # type: ignore[method-assign]
    TranslationIndex.__init__ = timed_build  # type: ignore[method-assign]
    try:
        t = time.perf_counter()
        report = analyze(queries, index, jobs=jobs, show_progress=False)
        ours_s = time.perf_counter() - t
    finally:
        Analyzer._originality = originality_step  # type: ignore[method-assign]
        TranslationIndex.__init__ = build_pairs  # type: ignore[method-assign]
    if jobs == 1:
        ours_orig_s = clock["orig"] - clock["build"]
        ours_orig_cpu = clock["orig_cpu"] - clock["build_cpu"]
        how_orig = f"timed inside the analyzer; the pair index built once on top: {clock['build']:.2f} s"
    else:  # worker processes: from a second run without originality
        t = time.perf_counter()
        analyze(queries, index, jobs=jobs, show_progress=False, originality=False)
        ours_orig_s = max(1e-9, ours_s - (time.perf_counter() - t))
        ours_orig_cpu = float("nan")
        how_orig = "from a second run without it, pair index builds included"
    print(
        f"analyze {len(queries)} pieces ({sum(len(q) for q in queries)} notes, jobs={jobs}): {ours_s:.2f} s "
        f"({ours_s / len(queries) * 1000:.0f} ms/piece), matching + motifs + exact originality "
        f"(the originality part: {ours_orig_s:.2f} s, {how_orig})"
    )

    scorer = OriginalityScorer().fit_index(index)
    sample = queries[:n_brute]
    fast_windows = {r["piece"]: r for r in report.originality_curves}
    t, c = time.perf_counter(), time.process_time()
    brute = [scorer.brute_force(q) for q in sample]
    brute_s, brute_cpu = time.perf_counter() - t, time.process_time() - c
    # The brute force costs (window points) x (reference points): extrapolate in query window points.
    points = [
        sum(
            len(w)
            for w in query_windows(
                point_set(q, scorer.lines, scorer.include_drums), scorer.length, scorer.hop
            )[0]
        )
        for q in queries
    ]
    scale = sum(points) / max(1, sum(points[: len(sample)]))
    n_windows_sample = sum(len(b.originality) for b in brute)
    n_windows_all = sum(len(r["originality"]) for r in report.originality_curves)
    brute_all_s, brute_all_cpu = brute_s * scale, brute_cpu * scale
    names = [r.piece for r in report.piece_records][:n_brute]
    fast = np.concatenate([np.asarray(fast_windows[n]["originality"]) for n in names])
    slow = np.concatenate([b.originality for b in brute])
    extrapolated = len(sample) < len(queries)
    print(
        f"brute-force originality (Yin et al., every window against every reference window): {brute_s:.2f} s "
        f"on {len(sample)} pieces ({n_windows_sample} windows)"
        + (
            f"; extrapolated to all {n_windows_all} windows by their points: {brute_all_s:.1f} s"
            if extrapolated
            else ""
        )
    )
    how = f"EXTRAPOLATED from {len(sample)} pieces" if extrapolated else "measured on all pieces"
    print(f"ratio: brute-force originality alone / our whole analysis = {brute_all_s / ours_s:.1f}x ({how})")
    print(
        f"ratio: brute-force originality / our exact originality = {brute_all_s / ours_orig_s:.1f}x wall clock, "
        f"{brute_all_cpu / ours_orig_cpu:.1f}x CPU time ({how}; target >= 100x)"
    )
    if jobs == 1:
        with_build = ours_orig_s + clock["build"]
        print(f"ratio with the one-time pair index build counted: {brute_all_s / with_build:.1f}x wall clock")
    same = fast == slow  # exact: the same floats, not approximately
    print(
        f"equality on the sample: exact originality equals brute force on {np.mean(same):.2%} of "
        f"{len(same)} windows ({int((~same).sum())} differ; target >= 99.9%), "
        f"max |difference| {np.max(np.abs(fast - slow), initial=0.0):.3g}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", choices=["index", "analysis", "all"], default="all")
    parser.add_argument("--tunes", type=int, default=8400)
    parser.add_argument("--pieces", type=int, default=100, help="analysis: query pieces")
    parser.add_argument(
        "--brute", type=int, default=100, help="analysis: pieces the brute-force method runs on"
    )
    parser.add_argument("--jobs", type=int, default=1, help="analysis: worker processes")
    args = parser.parse_args()
    console = Console()
    if args.section in ("index", "all"):
        bench_index(console, args.tunes)
    if args.section in ("analysis", "all"):
        bench_analysis(console, args.pieces, args.brute, args.jobs)


if __name__ == "__main__":
    main()
