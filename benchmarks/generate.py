"""Generation throughput: KV-cache decoding against full recomputation, same model, same batch, one process.

Both runs call :func:`remixmusic.generation.sampling.generate` with the same seed and settings, so they sample the
same tokens (the cache changes the cost, not the result; the script checks this) and the ratio of their
wall times is the speed-up from the cache. Tokens/s counts sampled tokens (every row's tokens after the
prefix, up to its EOS) per second of wall time, grammar masking and sampling included. The model is the
shipped default checkpoint, or ``--checkpoint``; without either, an untrained ``small`` preset stands in
(its samples are random and usually short, so prefer a trained checkpoint for the absolute number).

Goals (issue 3): at least 3x from the cache, and the default model at 300 tokens/s or more on a 2-core CPU.

Run: ``python benchmarks/generate.py [--checkpoint PATH] [-n 8] [--max-tokens 512] [--repeat 2]``
"""

from __future__ import annotations

import sys

# Run as a script, this folder leads sys.path and its tokenize.py would shadow the standard library's
# ``tokenize`` (imported by numpy through inspect): take the folder out first.
if sys.path and sys.path[0] == __file__.rpartition("/")[0]:
    sys.path.pop(0)

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from remixmusic.errors import CheckpointError
from remixmusic.generation.config import preset
from remixmusic.generation.loading import load_model
from remixmusic.generation.model import MusicTransformer
from remixmusic.generation.sampling import SamplingConfig, generate
from remixmusic.tokenizer.remi import RemiTokenizer


def timed_generate(model, tokenizer, args, use_cache: bool) -> tuple[float, int, list[np.ndarray]]:
    """Best wall time over ``args.repeat`` runs, the number of sampled tokens, and the sequences."""
    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        config = SamplingConfig(
            n=args.n, bars=None, max_tokens=args.max_tokens, seed=args.seed, batch_size=args.n
        )
        results = generate(model, tokenizer, config, use_cache=use_cache)
        best = min(best, time.perf_counter() - start)
    sampled = sum(len(r.ids) - 1 for r in results)  # everything after BOS (the closing EOS included)
    return best, sampled, [r.ids for r in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped checkpoint")
    parser.add_argument("-n", type=int, default=8, help="samples decoded as one batch")
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    console = Console()
    try:
        model, tokenizer, identity = load_model(args.checkpoint)
        name = identity["id"]
    except CheckpointError as exc:
        if args.checkpoint is not None:
            raise
        console.print(f"[yellow]{exc}[/yellow]\nusing an untrained 'small' model instead")
        tokenizer = RemiTokenizer()
        torch.manual_seed(0)
        model = MusicTransformer(preset("small", tokenizer.vocab_size)).eval()
        name = "untrained small"
    generate(model, tokenizer, SamplingConfig(n=1, bars=1, seed=args.seed))  # warm-up (allocations, lazy init)

    cached_s, tokens, cached_ids = timed_generate(model, tokenizer, args, use_cache=True)
    plain_s, plain_tokens, plain_ids = timed_generate(model, tokenizer, args, use_cache=False)
    same = plain_tokens == tokens and all(
        np.array_equal(a, b) for a, b in zip(cached_ids, plain_ids, strict=True)
    )

    table = Table(title=f"generation, {name}, batch {args.n}, up to {args.max_tokens} tokens per sample")
    for column in ("decoding", "tokens", "seconds", "tokens/s"):
        table.add_column(column, justify="right")
    table.add_row("KV cache", str(tokens), f"{cached_s:.2f}", f"{tokens / cached_s:.0f}")
    table.add_row(
        "no cache (recompute)", str(plain_tokens), f"{plain_s:.2f}", f"{plain_tokens / plain_s:.0f}"
    )
    console.print(table)
    console.print(f"cache speed-up: {plain_s / cached_s:.2f}x (goal >= 3x); identical samples: {same}")
    console.print(f"tokens/s with the cache: {tokens / cached_s:.0f} (goal >= 300 for the default model)")
    console.print(f"torch {torch.__version__}, {torch.get_num_threads()} threads available")


if __name__ == "__main__":
    main()
