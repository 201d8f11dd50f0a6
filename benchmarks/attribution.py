"""Attribution benchmark: does the analyser find planted copies, with their true sources and boundaries?

Query sets are built from a built corpus (default essen; ``remixmusic dataset build essen`` first) by
:class:`remixmusic.evaluation.planted.PlantedSetMaker`: exact copies of 6 to 24 notes at random offsets
under transposition and time scaling, spliced between filler with no rest; varied copies with 1 to 3
edits (changed, deleted, passing and ornament notes); copies hidden in an inner voice; null pieces
(random walks, shuffled reference melodies, and style-matched Markov surrogates of the reference that
share no run longer than the analyser's exact-copy length minus one with it). The 1, 2 and 4-bar
patchworks and the granularity recovered from them are measured by ``benchmarks/granularity.py``. The
reference index is the corpus's train split, under ``--invariance`` (named on the ``reference:`` line).
Printed per set: passage recall with the true source (exact copies of 10 notes or more whose pattern
occurs in one reference piece, in the melody and in an inner voice, and all; varied copies with at most
2 edits of 12 query notes or more, with a unique pattern and all, then those that also span 12 source
notes or more: an ornament adds two query notes that copy nothing, so a "12-note" ornamented copy may
reproduce only 8 source notes), note precision (strict: every labelled note outside a planted
fragment is false; then counting as right the filler notes that continue a fragment's source exactly,
pitch and onset, by chance: :meth:`~remixmusic.evaluation.planted.PlantedSetMaker.continuations`),
median boundary error, source accuracy, the
share of each null set's notes labelled copied or varied (both together, then apart; with the style
null's longest exact match with the index), and analysis time per query piece.

The style null caps the runs a surrogate shares with a reference melody in the default invariance's
symbols (interval and onset ratio). The cap holds for *exact* runs only: at a context found in one
reference tune the order-2 walk follows that tune, and when the cap forbids its next event it changes one
note (a pitch, most often at its time) and follows the tune again, so some surrogates are near-copies of
a reference passage (10 or 11 notes of one tune with one or two notes changed, its rhythm kept). Its
*copied* coverage is a no-copy rate; its *varied* coverage counts those near-copies too, so it is an
upper bound of the false varied rate, not the rate (the random and shuffled nulls give that). Under an invariance that ignores rhythm (``intervals``) a
surrogate's pitch sequence may share longer runs with the reference than that cap allows, so its
coverage there is not a no-copy rate: the random and shuffled nulls are (the benchmark says so).

``--sweep FIELD=V1,V2,...`` reruns the exact, varied and null sets under each value of one MatchConfig
field and prints the trade-off: recall and note precision against false coverage on the nulls.

    python benchmarks/attribution.py                    # essen, the default sizes
    python benchmarks/attribution.py --dataset oneills --n 60 --seed 2 --null 200
    python benchmarks/attribution.py --match max_chains=512   # a MatchConfig override
    python benchmarks/attribution.py --dataset oneills --sweep varied_false_copies=0.05,0.5,5
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from remixmusic.data.datasets import load_dataset
from remixmusic.evaluation.planted import (
    FoundPassage,
    PlantedPiece,
    PlantedSetMaker,
    score_attribution,
)
from remixmusic.novelty.analyze import analyze
from remixmusic.novelty.index import Index
from remixmusic.novelty.match import Matcher
from remixmusic.novelty.report import AnalysisReport
from remixmusic.novelty.symbols import TIMELESS


def found_passages(report: AnalysisReport, n_queries: int) -> list[list[FoundPassage]]:
    """The recombined passages of each query piece, in query order."""
    out: list[list[FoundPassage]] = [[] for _ in range(n_queries)]
    names = report.reference_names
    order = {r.piece: k for k, r in enumerate(report.query_records())}
    if hasattr(report, "passage_records"):
        for p in report.passage_records:
            out[order[p.piece]].append(
                FoundPassage(p.notes, p.label, p.source_names)
            )
        return out
    # Before passages existed: runs of line notes with one label and one source on the note map.
    labels = ("copied", "varied", "stock", "self-repeat", "prompt", "novel")
    for k, nm in enumerate(report.note_maps):
        label = np.asarray(nm.label)
        source = np.asarray(nm.source)
        idx = np.flatnonzero(label >= 0)
        runs = np.flatnonzero(
            np.r_[True, (label[idx][1:] != label[idx][:-1]) | (source[idx][1:] != source[idx][:-1])]
        )
        for a, b in zip(runs, np.r_[runs[1:], len(idx)], strict=True):
            lab = labels[int(label[idx[a]])]
            src = int(source[idx[a]])
            out[k].append(FoundPassage(idx[a:b], lab, [names[src]] if src >= 0 else []))
    return out


def unique_fragments(index: Index, maker: PlantedSetMaker, planted: Sequence[PlantedPiece]) -> list[list[bool]]:
    """Per fragment: its (untransposed, unscaled) pattern occurs in exactly one reference piece."""
    by_name = {n: i for i, n in enumerate(maker.names)}
    out = []
    for pp in planted:
        flags = []
        for f in pp.fragments:
            src = maker.pieces[by_name[f.source]]
            part = src.with_notes(src.notes[np.sort(f.source_notes)])
            streams = index.streams(part)
            sym = np.asarray(streams[0].symbols, np.int64) if streams else np.zeros(0, np.int64)
            if len(sym) == 0:
                flags.append(False)
                continue
            length, lo, hi = index.matching_statistics(sym)[:3]
            if length[0] < len(sym):
                flags.append(False)
                continue
            slots = np.asarray(index.sa[int(lo[0]) : int(hi[0])]).astype(np.int64)
            flags.append(len(np.unique(np.asarray(index.piece)[slots])) == 1)
        out.append(flags)
    return out


def _value(text: str) -> Any:
    """A ``--match`` value: an int, a float, a bool or ``None`` when it reads as one, else the text."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def label_coverage(planted: Sequence[PlantedPiece], found: Sequence[Sequence[FoundPassage]]) -> tuple[float, float]:
    """Shares of all query notes labelled copied and labelled varied."""
    copied = varied = total = 0
    for pp, passages in zip(planted, found, strict=True):
        lab = np.zeros(len(pp.piece.notes), np.int8)
        for p in passages:
            if p.label in ("copied", "varied"):
                lab[p.notes] = np.where(lab[p.notes] == 1, 1, 1 if p.label == "copied" else 2)
        copied += int((lab == 1).sum())
        varied += int((lab == 2).sum())
        total += len(lab)
    return copied / max(total, 1), varied / max(total, 1)


def longest_matches(index: Index, planted: Sequence[PlantedPiece]) -> np.ndarray:
    """Per piece, its longest exact match with the index, in symbols (over all its lines)."""
    out = []
    for pp in planted:
        lengths = [0] + [
            int(index.matching_statistics(np.asarray(st.symbols, np.int64))[0].max())
            for st in index.streams(pp.piece) if len(st.symbols)
        ]
        out.append(max(lengths))
    return np.asarray(out, np.int64)


def _run(planted: Sequence[PlantedPiece], index: Index, jobs: int, overrides: dict[str, Any]):
    t = time.perf_counter()
    report = analyze([p.piece for p in planted], index, originality=False, jobs=jobs, show_progress=False, **overrides)
    found = found_passages(report, len(planted))
    return found, 1000 * (time.perf_counter() - t) / max(len(planted), 1)


def _selections(index: Index, maker: PlantedSetMaker, exact, varied):
    uniq = unique_fragments(index, maker, exact)
    ten = [[u and f.n_notes >= 10 for u, f in zip(us, p.fragments, strict=True)] for us, p in zip(uniq, exact, strict=True)]
    uniq_v = unique_fragments(index, maker, varied)
    twelve: dict[Any, list[list[bool]]] = {
        need: [
            [(u or not need) and f.n_notes >= 12 and f.edits <= 2 for u, f in zip(us, p.fragments, strict=True)]
            for us, p in zip(uniq_v, varied, strict=True)
        ]
        for need in (True, False)
    }
    # Both sides: 12 query notes or more *and* a source span of 12 notes or more (an ornament adds query
    # notes that copy nothing, a deletion source notes the query lacks).
    twelve["both"] = [
        [f.n_notes >= 12 and _source_span(f) >= 12 and f.edits <= 2 for f in p.fragments] for p in varied
    ]
    return ten, twelve


def _source_span(f: Any) -> int:
    """Source notes from a fragment's first copied note to its last, deleted ones included (note indices:
    melody positions in the one-line tunes of essen and oneills)."""
    notes = np.asarray(f.source_notes)
    return int(notes.max() - notes.min() + 1) if len(notes) else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="essen")
    ap.add_argument("--n", type=int, default=100, help="planted queries (3 fragments each)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--invariance", default="transposed+tempo", help="the index's invariance")
    ap.add_argument("--null", type=int, default=None, help="random + shuffled null pieces, half each (default: n / 2); the style null has as many as each half")
    ap.add_argument("--style-order", type=int, default=2, help="Markov order of the style-matched null")
    ap.add_argument(
        "--style-shared", type=int, default=None,
        help="longest run (symbols) a style-null piece may share with a reference melody "
        "(default: the analyser's exact-copy length minus one)",
    )
    ap.add_argument(
        "--match", action="append", default=[], metavar="FIELD=VALUE",
        help="a MatchConfig override (repeatable), e.g. --match max_chains=256",
    )
    ap.add_argument("--sweep", default=None, metavar="FIELD=V1,V2,...", help="a MatchConfig field's values to compare")
    args = ap.parse_args()
    overrides: dict[str, Any] = {k: _value(v) for k, v in (item.split("=", 1) for item in args.match)}

    t0 = time.perf_counter()
    ds = load_dataset(args.dataset)
    train = ds.pieces("train", jobs=args.jobs)
    index = Index.build(train, invariance=args.invariance)
    print(f"reference: {args.dataset} train, {index.n_pieces} pieces, invariance {index.invariance}, chance "
          f"length {index.chance_length}, built in {time.perf_counter() - t0:.1f} s")
    if index.invariance in TIMELESS:
        print(f"note: under {index.invariance} the style null's cap is on interval-and-rhythm runs, so its "
              "surrogates may share longer pitch-interval runs with the reference: its coverage is not a "
              "no-copy rate here (the random and shuffled nulls are)")
    maker = PlantedSetMaker(train, seed=args.seed)
    n_null = args.null if args.null is not None else args.n // 2
    shared = args.style_shared if args.style_shared is not None else Matcher(index, **overrides).min_length - 1
    exact = maker.make_planted(args.n)
    varied = maker.make_planted(args.n // 2, max_edits=3, edit_share=1.0)
    inner = maker.make_inner_voice(args.n // 4)
    nulls = maker.make_null(n_null)
    null_sets = {
        "random": [p for p in nulls if p.kind == "random"],
        "shuffled": [p for p in nulls if p.kind == "shuffled"],
        f"style (order {args.style_order})": maker.make_style_null(n_null // 2, args.style_order, shared),
    }
    ten, twelve = _selections(index, maker, exact, varied)
    ten_inner = [
        [u and f.n_notes >= 10 for u, f in zip(us, p.fragments, strict=True)]
        for us, p in zip(unique_fragments(index, maker, inner), inner, strict=True)
    ]
    style = next(v for k, v in null_sets.items() if k.startswith("style"))
    longest = longest_matches(index, style)
    print(
        f"style null: Markov order {args.style_order}, at most {shared} relative events shared with a reference "
        f"melody; longest exact match with the index (symbols): median {np.median(longest):.0f}, "
        f"max {longest.max()}, share >= exact-copy length {np.mean(longest > shared):.3f}"
    )
    if args.sweep:
        field_, values = args.sweep.split("=", 1)
        print(f"sweep {field_}: exact>=10 recall | exact precision | varied>=12,<=2 recall (unique) | "
              "null copied+varied: random / shuffled / style (style copied, varied)")
        for raw in values.split(","):
            over = {**overrides, field_: _value(raw)}
            fe, _ = _run(exact, index, args.jobs, over)
            fv, _ = _run(varied, index, args.jobs, over)
            se, s10 = score_attribution(exact, fe), score_attribution(exact, fe, only=ten)
            sv, svu = score_attribution(varied, fv, only=twelve[False]), score_attribution(varied, fv, only=twelve[True])
            cov = {}
            for name, ps in null_sets.items():
                fn, _ = _run(ps, index, args.jobs, over)
                cov[name] = label_coverage(ps, fn)
            st = cov[next(k for k in cov if k.startswith("style"))]
            print(
                f"  {raw:>8s}: {s10.recall:.3f} | {se.note_precision:.3f} | {sv.recall:.3f} ({svu.recall:.3f}) | "
                + " / ".join(f"{sum(c):.4f}" for c in cov.values())
                + f" ({st[0]:.4f}, {st[1]:.4f})",
                flush=True,
            )
        return
    for name, planted in (("exact", exact), ("varied (1-3 edits)", varied), ("inner voice", inner)):
        found, per_piece = _run(planted, index, args.jobs, overrides)
        if name in ("exact", "inner voice"):
            only = ten if name == "exact" else ten_inner
            s10 = score_attribution(planted, found, only=only)
            print(f"{name + ' >=10, unique':24s} recall {s10.recall:.3f}  ({s10.n_fragments} fragments)")
        elif name.startswith("varied"):
            for label, need in (
                ("varied >=12, <=2, unique", True),
                ("varied >=12, <=2 edits", False),
                ("varied >=12 both sides", "both"),
            ):
                s12 = score_attribution(planted, found, only=twelve[need])
                print(f"{label:24s} recall {s12.recall:.3f}  ({s12.n_fragments} fragments)")
        s = score_attribution(planted, found, continued=[maker.continuations(p) for p in planted])
        print(
            f"{name:24s} recall {s.recall:.3f}  precision {s.note_precision:.3f} "
            f"({s.note_precision_continued:.3f} with exact continuations)  "
            f"boundary error median {s.median_boundary_error:.1f} notes  source accuracy "
            f"{s.source_accuracy:.3f}  ({s.n_fragments} fragments, {per_piece:.0f} ms/piece)"
        )
    for name, planted in null_sets.items():
        found, per_piece = _run(planted, index, args.jobs, overrides)
        copied, var = label_coverage(planted, found)
        print(
            f"{'null ' + name:24s} copied+varied coverage {copied + var:.4f} (copied {copied:.4f}, varied {var:.4f})  "
            f"({len(planted)} pieces, {per_piece:.0f} ms/piece)"
        )


if __name__ == "__main__":
    main()
