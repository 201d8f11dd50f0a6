"""Attribution benchmark: does the analyser find planted copies, with their true sources and boundaries?

Query sets are built from a built corpus (default essen; ``remixmusic dataset build essen`` first) by
:class:`remixmusic.evaluation.planted.PlantedSetMaker`: exact copies of 6 to 24 notes at random offsets
under transposition and time scaling, spliced between filler with no rest; varied copies with 1 to 3
edits (changed, deleted, passing and ornament notes); copies hidden in an inner voice; null pieces
(random walks, shuffled reference melodies); and 1, 2 and 4-bar patchworks. The reference index is the
corpus's train split. Printed per set: passage recall with the true source (exact copies of 10 notes or
more whose pattern occurs in one reference piece, and all), note precision, median boundary error,
source accuracy, copied coverage on null sets, and analysis time per query piece (ms/piece).

    python benchmarks/attribution.py                    # essen, the default sizes
    python benchmarks/attribution.py --dataset oneills --n 60 --seed 2 --null 200
    python benchmarks/attribution.py --match max_chains=512   # a MatchConfig override
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
from remixmusic.novelty.report import AnalysisReport


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="essen")
    ap.add_argument("--n", type=int, default=100, help="planted queries (3 fragments each)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--null", type=int, default=None, help="null pieces (default: n / 2)")
    ap.add_argument(
        "--match", action="append", default=[], metavar="FIELD=VALUE",
        help="a MatchConfig override (repeatable), e.g. --match max_chains=256",
    )
    args = ap.parse_args()
    overrides: dict[str, Any] = {k: _value(v) for k, v in (item.split("=", 1) for item in args.match)}

    t0 = time.perf_counter()
    ds = load_dataset(args.dataset)
    train = ds.pieces("train", jobs=args.jobs)
    index = Index.build(train)
    print(f"reference: {args.dataset} train, {index.n_pieces} pieces, chance length {index.chance_length}, "
          f"built in {time.perf_counter() - t0:.1f} s")
    maker = PlantedSetMaker(train, seed=args.seed)
    sets = {
        "exact": maker.make_planted(args.n),
        "varied (1-3 edits)": maker.make_planted(args.n // 2, max_edits=3, edit_share=1.0),
        "inner voice": maker.make_inner_voice(args.n // 4),
        "null (random, shuffled)": maker.make_null(args.null if args.null is not None else args.n // 2),
    }
    for name, planted in sets.items():
        t = time.perf_counter()
        report = analyze(
            [p.piece for p in planted], index, originality=False, jobs=args.jobs, show_progress=False, **overrides
        )
        found = found_passages(report, len(planted))
        elapsed = time.perf_counter() - t
        per_piece = f"{1000 * elapsed / max(len(planted), 1):.0f} ms/piece"
        if name.startswith("null"):
            s = score_attribution(planted, found)
            print(f"{name:24s} copied coverage {s.copied_coverage:.4f}  ({len(planted)} pieces, {per_piece})")
            continue
        uniq = unique_fragments(index, maker, planted)
        if name == "exact":
            ten = [[u and f.n_notes >= 10 for u, f in zip(us, p.fragments, strict=True)] for us, p in zip(uniq, planted, strict=True)]
            s10 = score_attribution(planted, found, only=ten)
            print(f"{'exact >=10 notes, unique':24s} recall {s10.recall:.3f}  ({s10.n_fragments} fragments)")
        elif name.startswith("varied"):
            for label, need_unique in (("varied >=12, <=2, unique", True), ("varied >=12, <=2 edits", False)):
                sel = [
                    [(u or not need_unique) and f.n_notes >= 12 and f.edits <= 2 for u, f in zip(us, p.fragments, strict=True)]
                    for us, p in zip(uniq, planted, strict=True)
                ]
                s12 = score_attribution(planted, found, only=sel)
                print(f"{label:24s} recall {s12.recall:.3f}  ({s12.n_fragments} fragments)")
        s = score_attribution(planted, found)
        print(
            f"{name:24s} recall {s.recall:.3f}  precision {s.note_precision:.3f}  "
            f"boundary error median {s.median_boundary_error:.1f} notes  source accuracy "
            f"{s.source_accuracy:.3f}  ({s.n_fragments} fragments, {per_piece})"
        )


if __name__ == "__main__":
    main()
