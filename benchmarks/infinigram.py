"""∞-gram cost against the KN n-gram it replaces as the pure-recombination baseline, in one process.

Both models are built on the same training tokens (a dataset's train split, encoded with the shipped
checkpoint's tokenizer) and sample with the same settings and seed through
:func:`remixmusic.generation.sampling.generate`. Printed: the build time (the ∞-gram's suffix array against the KN
counts of orders 1..``--kn-order``), sampling tokens/s (sampled tokens after BOS per second of wall time,
grammar masking included) for the unbounded ∞-gram, the ∞-gram with ``--context`` tokens and the KN
model, and the ratios against the KN model.

Run: ``python benchmarks/infinigram.py [--dataset bach-chorales] [-n 16] [--bars 16] [--repeat 2]``
"""

from __future__ import annotations

import sys

# Run as a script, this folder leads sys.path and its tokenize.py would shadow the standard library's
# ``tokenize`` (imported by numpy through inspect): take the folder out first.
if sys.path and sys.path[0] == __file__.rpartition("/")[0]:
    sys.path.pop(0)

import argparse
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from remixmusic.data.tokens import training_data
from remixmusic.generation.baselines.infinigram import InfiniGram
from remixmusic.generation.baselines.ngram import NGramModel
from remixmusic.generation.checkpoint_info import default_checkpoint_path, read_info
from remixmusic.generation.sampling import SamplingConfig, generate


def best_time(fn: Any, repeat: int) -> tuple[float, Any]:
    """Best wall time of ``fn()`` over ``repeat`` runs, and its last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="bach-chorales")
    parser.add_argument("-n", type=int, default=16, help="pieces, decoded as one batch")
    parser.add_argument("--bars", type=int, default=16)
    parser.add_argument("--context", type=int, default=16, help="the bounded ∞-gram's context (tokens)")
    parser.add_argument("--kn-order", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    console = Console()
    data = training_data(args.dataset, read_info(default_checkpoint_path()).tokenizer_config, jobs=1)
    tok = data.tokenizer
    n_tokens = sum(len(s) for s in data.train)
    infini_build, infini = best_time(
        lambda: InfiniGram(tok.vocab_size, tok.bos_id, grammar=tok.grammar()).fit(data.train), args.repeat
    )
    kn_build, kn = best_time(
        lambda: NGramModel(tok.vocab_size, tok.bos_id, max_order=args.kn_order).fit(data.train), args.repeat
    )
    console.print(
        f"{args.dataset}: {len(data.train)} training pieces, {n_tokens} tokens; build: ∞-gram suffix array "
        f"{infini_build:.2f} s, KN orders 1..{args.kn_order} {kn_build:.2f} s "
        f"(ratio {kn_build / infini_build:.1f}x)",
        highlight=False,
    )

    def sample(model: Any) -> Any:
        return generate(model, tok, SamplingConfig(n=args.n, bars=args.bars, seed=args.seed, batch_size=args.n))

    bounded = InfiniGram(tok.vocab_size, tok.bos_id, args.context, tok.grammar()).fit(data.train)
    rows = []
    for name, model in (("∞-gram", infini), (f"∞-gram, {args.context}-token context", bounded), ("KN", kn)):
        seconds, results = best_time(lambda m=model: sample(m), args.repeat)
        sampled = sum(len(r.ids) - 1 for r in results)
        rows.append((name, seconds, sampled / seconds))
    kn_rate = rows[-1][2]
    table = Table(title=f"sampling {args.n} pieces of {args.bars} bars (best of {args.repeat})")
    for column in ("model", "seconds", "tokens/s", "vs KN"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for name, seconds, rate in rows:
        table.add_row(name, f"{seconds:.2f}", f"{rate:.0f}", f"{rate / kn_rate:.2f}x")
    console.print(table)


if __name__ == "__main__":
    main()
