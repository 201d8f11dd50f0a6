"""Tokenizer throughput: remixmusic's REMI against MidiTok 3's REMI on the same MIDI files, one process.

Pieces come from the committed ``bach-chorales`` dataset when it is there, else from Bach chorales
parsed out of the music21 corpus; either way they are written as MIDI files to a temporary folder and
each tokenizer reads them its own way (``midi_bytes_to_piece`` / ``symusic.Score``). Loading is not
timed: only ``encode`` (tokenization, quantization included) and ``decode`` are. Both tokenizers use
the same resolution (12 steps per beat), meter tokens and pitch range; the table reports notes per
second for each and the ratio, for single-stream REMI and for multi-track REMI+ (Program tokens).

Run: ``python benchmarks/tokenization.py [--pieces 300] [--repeat 3]`` (needs the ``bench`` extra).
"""

from __future__ import annotations

import sys

# Run as a script, this file's folder leads sys.path and this file would shadow the standard library's
# ``tokenize`` module (imported by inspect, hence by dataclasses and rich): take the folder out first.
if sys.path and sys.path[0] == __file__.rpartition("/")[0]:
    sys.path.pop(0)

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from remixmusic._util.parallel import parallel_map
from remixmusic.errors import DatasetError
from remixmusic.io.midi import midi_bytes_to_piece, piece_to_bytes
from remixmusic.music.notes import STEPS_PER_BEAT
from remixmusic.tokenizer.config import TokenizerConfig
from remixmusic.tokenizer.remi import RemiTokenizer


def _parse_chorale(path: str) -> bytes | None:
    from music21 import corpus

    from remixmusic.io.music21 import score_to_piece

    try:
        return piece_to_bytes(score_to_piece(corpus.parse(path)))
    except Exception:  # a score music21 cannot parse or we cannot convert is left out of the benchmark
        return None


def midi_files(count: int, folder: Path, jobs: int) -> list[Path]:
    """``count`` chorales as MIDI files in ``folder``."""
    try:
        from remixmusic.data.datasets import load_dataset

        blobs = [p.read_bytes() for p in load_dataset("bach-chorales").files()[:count]]
    except DatasetError:
        from music21 import corpus

        paths = sorted(str(p) for p in corpus.getComposer("bach") if "bwv" in p.name)[
            : count + count // 10 + 5
        ]
        parsed = parallel_map(_parse_chorale, paths, jobs=jobs, description="parsing chorales (music21)")
        blobs = [b for b in parsed if b is not None][:count]
    files = []
    for i, blob in enumerate(blobs):
        files.append(folder / f"{i:04d}.mid")
        files[-1].write_bytes(blob)
    return files


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("-j", "--jobs", type=int, default=0, help="processes for parsing (0: all cores)")
    args = parser.parse_args()

    import miditok
    import symusic

    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        files = midi_files(args.pieces, Path(tmp), args.jobs)
        data = [f.read_bytes() for f in files]
    pieces = [midi_bytes_to_piece(b) for b in data]
    scores = [symusic.Score.from_midi(b) for b in data]
    n_notes = sum(len(p.notes) for p in pieces)
    console.print(f"{len(pieces)} pieces, {n_notes} notes (loading not timed), best of {args.repeat}")

    table = Table("tokenization", "step", "remixmusic notes/s", "MidiTok notes/s", "ratio")
    for label, programs in (("REMI", False), ("REMI+ (programs)", True)):
        ours = RemiTokenizer(TokenizerConfig(use_programs=programs))
        theirs = miditok.REMI(
            miditok.TokenizerConfig(
                pitch_range=ours.config.pitch_range,
                beat_res={(0, ours.config.max_duration // STEPS_PER_BEAT): STEPS_PER_BEAT},
                num_velocities=1,
                use_time_signatures=True,
                use_programs=programs,
                one_token_stream_for_programs=programs,
            )
        )
        our_ids = [ours.encode(p) for p in pieces]
        their_tokens = [theirs(s) for s in scores]
        timings = {
            "encode": (
                best_time(lambda t=ours: [t.encode(p) for p in pieces], args.repeat),
                best_time(lambda t=theirs: [t(s) for s in scores], args.repeat),
            ),
            "decode": (
                best_time(lambda t=ours, ids=our_ids: [t.decode(i) for i in ids], args.repeat),
                best_time(lambda t=theirs, tok=their_tokens: [t.decode(x) for x in tok], args.repeat),
            ),
        }
        for step, (mine, other) in timings.items():
            table.add_row(
                label, step, f"{n_notes / mine:,.0f}", f"{n_notes / other:,.0f}", f"{other / mine:.1f}x"
            )
    console.print(table)


if __name__ == "__main__":
    main()
