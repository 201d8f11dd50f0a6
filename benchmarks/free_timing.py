"""Copies played with free timing: analysis on the file's beat, on a tracked beat (``--timing tracked``,
:mod:`remixmusic.music.beats`) and by pitch alone (``--invariance intervals``), in one run.

From a built corpus (default oneills; ``remixmusic dataset build oneills`` first) ``--n`` training tunes
and ``--n`` held-out (test) tunes are rendered as performances (``benchmarks/near_duplicates.py``'s
``timing`` profile: tempo x0.75-1.35 with a smooth +-10-20% drift, 20 ms onset jitter, a one-track file
at 120 qpm with times to the millisecond; ``--expressive`` adds phrase-final ritardandi and rubato) and
read back through the project's reader. Printed:

* **ratio agreement**: the share of inter-onset ratios (snapped as matching snaps them) of each
  rendition equal to its score's, as read and on the tracked beat;
* **true-source coverage**: per rendition of a training tune, the share of its analysed notes in a copied
  or varied passage naming that tune, against the training split (mean), under each reading;
* **null**: the same share for renditions of held-out tunes, any source (the scores of held-out tunes
  score ``score null`` as read: the level a reading that restores the rhythm should come back to);
* the time re-quantization takes per piece, against the time of analysing it on the file's beat.

Results (oneills, 60 + 60 tunes, seed 0): ratio agreement 0.42 as read, 0.81 tracked; true-source
coverage on the file's beat 0.22, tracked 0.80, intervals 1.00; null 0.02 / 0.15 / 0.34 (the held-out
scores as read: 0.22); re-quantization 16 ms a piece, 0.38x the time of its analysis. With
``--expressive`` (rubato, ritardandi): ratio agreement 0.31 / 0.65; true-source coverage 0.09 / 0.58 /
1.00; null 0.005 / 0.08 / 0.35 (scores 0.23).

    python benchmarks/free_timing.py                    # oneills, 60 tunes
    python benchmarks/free_timing.py --dataset essen --n 100 --expressive
"""

from __future__ import annotations

import sys

# Run as a script, this folder leads sys.path and its tokenize.py would shadow the standard library's.
if sys.path and sys.path[0] == __file__.rpartition("/")[0]:
    sys.path.pop(0)

import argparse
import os
import time

import numpy as np

sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import near_duplicates as nd

from remixmusic.data.datasets import load_dataset
from remixmusic.music.beats import requantize
from remixmusic.music.notes import Piece
from remixmusic.novelty.analyze import analyze
from remixmusic.novelty.index import Index
from remixmusic.novelty.symbols import _RATIO_EDGES


def ratios(onsets: np.ndarray) -> np.ndarray:
    """Snapped ratio of each two successive inter-onset intervals of the notes in order (0 for a merge)."""
    ioi = np.maximum(np.diff(np.sort(onsets)).astype(np.float64), 0.01)
    return np.searchsorted(_RATIO_EDGES, np.log2(ioi[1:] / ioi[:-1]))


def coverage(report, pieces: list[Piece], sources: list[str] | None) -> float:
    """Mean share of each piece's analysed notes in copied or varied passages (naming its source)."""
    shares = []
    for record in report.piece_records:
        rows = [p for p in report.passage_records if p.piece == record.piece and p.label in ("copied", "varied")]
        if sources is not None:  # the renditions are named copy-K.mid
            source = sources[int(record.piece.removesuffix(".mid").rsplit("-", 1)[1])]
            rows = [p for p in rows if source in p.sources.split(";")]
        notes = set()
        for p in rows:
            notes.update(int(i) for i in str(p.note_indices).split(";") if i)
        shares.append(len(notes) / max(record.n_line_notes, 1))
    return float(np.mean(shares)) if shares else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="oneills")
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--expressive", action="store_true")
    args = parser.parse_args()
    dataset = load_dataset(args.dataset)
    train, test = dataset.pieces("train"), dataset.pieces("test")
    rng = np.random.default_rng(args.seed)
    profile = nd.Profile("timing", expressive=args.expressive)

    def rendered(pieces: list[Piece], tag: str):
        out, scores, names = [], [], []
        for i in rng.choice(len(pieces), min(args.n, len(pieces)), replace=False).tolist():
            score = pieces[i]
            if len(score.notes) < 24:
                continue
            played = nd.render(score, profile, rng)
            played.source = f"{tag}-{len(out)}.mid"
            out.append(played)
            scores.append(score)
            names.append(os.path.basename(score.source or ""))
        return out, scores, names

    played, scores, names = rendered(train, "copy")
    null, null_scores, _ = rendered(test, "null")
    t = time.process_time()
    tracked = [requantize(p) for p in played]
    tracked_null = [requantize(p) for p in null]
    t_track = (time.process_time() - t) / (len(played) + len(null))

    agree = {
        name: float(np.mean([np.mean(ratios(x.notes["onset"]) == ratios(s.notes["onset"])) for x, s in zip(group, scores, strict=True) if len(x.notes) == len(s.notes)]))
        for name, group in (("as read", played), ("tracked", tracked))
    }
    print(f"{args.dataset}: {len(played)} renditions of training tunes, {len(null)} of held-out ones"
          f"{' (expressive)' if args.expressive else ''}")
    print(f"ratio agreement with the score: as read {agree['as read']:.3f}, tracked {agree['tracked']:.3f}")
    t_analyze = float("nan")
    index = Index.build(train)
    by_pitch = Index.build(train, invariance="intervals")
    for name, copies, nulls, idx in (
        ("file", played, null, index),
        ("tracked", tracked, tracked_null, index),
        ("intervals", played, null, by_pitch),
    ):
        t = time.process_time()
        copy_report = analyze(copies, idx, jobs=1, show_progress=False, originality=False)
        t_analyze = t_analyze if name != "file" else (time.process_time() - t) / len(copies)
        null_report = analyze(nulls, idx, jobs=1, show_progress=False, originality=False)
        print(f"{name:10s} true-source coverage {coverage(copy_report, copies, names):.3f}   "
              f"null copied+varied {coverage(null_report, nulls, None):.3f}")
    score_report = analyze(null_scores, index, jobs=1, show_progress=False, originality=False)
    print(f"score null (held-out scores as read) {coverage(score_report, null_scores, None):.3f}")
    print(f"re-quantization {1000 * t_track:.1f} ms a piece, its analysis on the file's beat "
          f"{1000 * t_analyze:.1f} ms: ratio {t_track / max(t_analyze, 1e-9):.2f}x")


if __name__ == "__main__":
    main()
