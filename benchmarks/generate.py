"""Generation throughput: KV-cache decoding against full recomputation, same model, same batch, one process.

Both runs call :func:`remixmusic.generation.sampling.generate` with the same seed and settings, so they sample the
same tokens (the cache changes the cost, not the result; the script checks this) and the ratio of their
wall times is the speed-up from the cache. Tokens/s counts sampled tokens (every row's tokens after the
prefix, up to its EOS) per second of wall time, grammar masking and sampling included. The model is the
shipped default checkpoint, or ``--checkpoint``; without either, an untrained ``small`` preset stands in
(its samples are random and usually short, so prefer a trained checkpoint for the absolute number).

Goals (issue 3): at least 3x from the cache, and the default model at 300 tokens/s or more on a 2-core CPU.

Cache growth past ``block_size`` (issue 7): a RoPE model decodes on past ``block_size`` with its sliding
window, and the KV cache (first sized at ``block_size``) must grow. The script times cached one-token steps
at positions ``block_size .. block_size + --past-steps`` (random tokens, batch ``-n``, one thread as in
generation) with the fixed cache, which doubles its buffers, and with the old behaviour emulated in the same
process (one slot more per step, so every step reallocates and copies every layer's keys and values), and
prints the ratio.

Run: ``python benchmarks/generate.py [--checkpoint PATH] [-n 8] [--max-tokens 512] [--repeat 2] [--past-steps 768]``
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
from remixmusic.generation.model import KVCache, MusicTransformer
from remixmusic.generation.sampling import SamplingConfig, generate, single_threaded
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


class OneSlotGrowthCache(KVCache):
    """The KV cache before the issue 7 fix, emulated: a full buffer is replaced by one exactly long enough
    (``capacity = max(capacity, end)`` left its doubling loop dead), so every step past the initial
    capacity reallocates and copies the keys and values of every layer."""

    @staticmethod
    def _grown(capacity: int, end: int) -> int:
        return max(capacity, end)


def ms_per_step_past_block(
    model: MusicTransformer, cache_class: type[KVCache], batch: int, steps: int, repeat: int
) -> tuple[float, int]:
    """Best (over ``repeat`` runs) mean milliseconds per one-token cached step at positions
    ``block_size .. block_size + steps`` after a ``block_size``-token prefill, on one thread as
    :func:`generate` decodes, with a cache of ``cache_class`` first sized at ``block_size``; and the
    number of layer-0 key buffers the steps went through (allocator reuse can hide some)."""
    block = model.config.block_size
    ids = torch.randint(
        0, model.config.vocab_size, (batch, block + steps), generator=torch.Generator().manual_seed(0)
    )
    device = next(model.parameters()).device
    ids = ids.to(device)
    best, buffers = float("inf"), 0
    with torch.inference_mode(), single_threaded():
        for _ in range(repeat):
            cache = cache_class(model.config.n_layer, batch, block)
            model(ids[:, :block], cache=cache)
            seen = set()
            start = time.perf_counter()
            for t in range(block, block + steps):
                model(ids[:, t : t + 1], cache=cache)
                seen.add(cache.keys[0].data_ptr())  # type: ignore[union-attr]
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            best, buffers = min(best, (time.perf_counter() - start) / steps * 1000), len(seen)
    return best, buffers


def report_cache_growth(console: Console, model: MusicTransformer, args: argparse.Namespace) -> None:
    """Per-step time past block_size: the doubling cache against the old one-slot growth (issue 7)."""
    block = model.config.block_size
    if model.config.positions == "learned":
        console.print("learned positions: the model cannot decode past block_size; cache growth not measured")
        return
    results = {}
    for label, cache_class in (("doubling (fixed)", KVCache), ("one-slot growth (old)", OneSlotGrowthCache)):
        results[label] = ms_per_step_past_block(model, cache_class, args.n, args.past_steps, args.repeat)
    table = Table(
        title=f"cached steps at positions {block}..{block + args.past_steps}, batch {args.n}, one thread"
    )
    for column in ("KV cache growth", "ms/step", "layer-0 key buffers"):
        table.add_column(column, justify="right")
    for label, (ms, buffers) in results.items():
        table.add_row(label, f"{ms:.2f}", str(buffers))
    console.print(table)
    fixed, old = results["doubling (fixed)"][0], results["one-slot growth (old)"][0]
    console.print(f"per-step speed-up past block_size from doubling: {old / fixed:.2f}x (old / fixed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped checkpoint")
    parser.add_argument("-n", type=int, default=8, help="samples decoded as one batch")
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--past-steps", type=int, default=768, help="cached steps timed past block_size (0: skip that part)"
    )
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
    if args.past_steps > 0:
        report_cache_growth(console, model, args)
    console.print(f"torch {torch.__version__}, {torch.get_num_threads()} threads available")


if __name__ == "__main__":
    main()
