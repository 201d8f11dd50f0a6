"""MIDI reading speed: the symusic path against the miditoolkit paths, on the same files, in one process.

Corpora: pop-like multi-track files made here (8-16 tracks each with drums, bass, chords, lead and pads,
controller curves and pitch bends, tempo and meter changes: a few thousand notes per file), and the
committed ``bach-chorales`` dataset (349 small four-part files). Each file is read from bytes in memory
(no disk time) by

* ``read_midi`` as it is now (``reader="auto"``: symusic on the file as it is when the byte screen allows,
  the exact repair pass first otherwise);
* miditoolkit as the reader was before (``miditoolkit.MidiFile`` then ``midi_to_piece``): the baseline;
* the new miditoolkit fallback (``reader="miditoolkit"``: the exact pass, then miditoolkit per track).

It prints seconds per file and the ratio to the baseline (the issue asks for >= 50x on multi-track files),
and checks that the symusic path and the miditoolkit fallback give identical pieces.

The symusic path and the baseline take turns reading the whole corpus (best of ``--repeat`` runs each),
so that load from other work drifting over time slows both alike; times are this process's CPU time
(``time.process_time``: other processes on a busy machine do not count); as in ``timeit``, garbage
collection is off while a reader runs (and done between turns). Run: ``python benchmarks/read.py [--pop 150] [--repeat 3]``.
"""

from __future__ import annotations

import sys

# Run as a script, this folder leads sys.path and its tokenize.py would shadow the standard library's.
if sys.path and sys.path[0] == __file__.rpartition("/")[0]:
    sys.path.pop(0)

import argparse
import gc
import io
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from remixmusic.io.midi import _read_fast, midi_bytes_to_piece, midi_to_piece
from remixmusic.io.smf import header_chunk, split_chunks, track_chunk, vlq
from remixmusic.music.notes import Piece

ROOT = Path(__file__).resolve().parents[1]


def pop_song(seed: int, quirks: bool = False) -> bytes:
    """A pop-like format-1 file: a conductor track, then 7-15 instrument tracks (drums on channel 10).

    With ``quirks``, some tracks also hold what real files hold: note-ons of velocity 0 as note-offs,
    zero-length drum hits, overlapping notes of one pitch, program changes between notes.
    """
    rng = np.random.default_rng(seed)
    tpq = int(rng.choice([96, 192, 384, 480, 960]))
    bars = int(rng.integers(48, 96))
    beat = tpq
    bar = 4 * beat
    end = bars * bar
    conductor = [(0, b"\xff\x03\x05Tempo"), (0, b"\xff\x51\x03" + int(rng.integers(400_000, 750_000)).to_bytes(3, "big"))]
    conductor += [(0, b"\xff\x58\x04\x04\x02\x18\x08"), (0, b"\xff\x59\x02" + bytes([int(rng.integers(0, 5)), 0]))]
    for at in sorted(rng.choice(np.arange(1, bars), 3, replace=False).tolist()):  # changes after bar 0
        conductor.append((at * bar, b"\xff\x51\x03" + int(rng.integers(400_000, 750_000)).to_bytes(3, "big")))
    if rng.random() < 0.5:
        conductor += [(bars // 2 * bar, b"\xff\x58\x04\x03\x02\x18\x08"), (bars // 2 * bar + 3 * beat, b"\xff\x58\x04\x04\x02\x18\x08")]
    conductor.sort(key=lambda e: e[0])
    chunks = [_encode(conductor, end, running=False)]
    n_tracks = int(rng.integers(7, 16))
    for k in range(n_tracks):
        channel = 9 if k == 0 else (k - 1) % 15 + (1 if (k - 1) % 15 >= 9 else 0)
        program = int(rng.integers(0, 128))
        name = f"Track {k}".encode()
        events: list[tuple[int, bytes]] = [(0, b"\xff\x03" + vlq(len(name)) + name)]
        events.append((0, bytes([0xC0 | channel, program])))
        events.append((0, bytes([0xB0 | channel, 7, int(rng.integers(60, 120))])))
        events.append((0, bytes([0xB0 | channel, 10, int(rng.integers(0, 128))])))
        step = [beat // 4, beat // 2, beat, 2 * beat][k % 4] if k else beat // 4
        low = 36 if k == 0 else int(rng.integers(28, 72))
        for start in range(0, end, step):
            if rng.random() < 0.25:
                continue
            chord = 1 if k % 3 else int(rng.integers(1, 4))
            for _ in range(chord):
                pitch = int(low + rng.integers(0, 12 if k else 16))
                length = 0 if (quirks and k == 0 and rng.random() < 0.3) else int(step * rng.uniform(0.3, 1.6))
                velocity = int(rng.integers(30, 128))
                events.append((start, bytes([0x90 | channel, pitch, velocity])))
                off = bytes([0x90 | channel, pitch, 0]) if quirks and rng.random() < 0.5 else bytes([0x80 | channel, pitch, 64])
                events.append((start + length, off))
            if k % 4 == 1 and rng.random() < 0.3:  # controller curves and pitch bends, as sequencers write
                for j in range(8):
                    events.append((start + j * step // 8, bytes([0xB0 | channel, 11, int(rng.integers(0, 128))])))
                    events.append((start + j * step // 8, bytes([0xE0 | channel, 0, int(rng.integers(32, 96))])))
            if quirks and k == 2 and rng.random() < 0.05:
                events.append((start, bytes([0xC0 | channel, int(rng.integers(0, 128))])))
        events.sort(key=lambda e: e[0])  # stable: a note-on keeps its place before its own note-off
        chunks.append(_encode(events, end, running=bool(k % 2)))
    return header_chunk(1, len(chunks), tpq) + b"".join(chunks)


def _encode(events: list[tuple[int, bytes]], end: int, running: bool) -> bytes:
    """A track chunk; with ``running``, repeated channel status bytes are left out (running status)."""
    out = bytearray()
    now = status = 0
    for tick, event in events:
        out += vlq(tick - now)
        now = tick
        if running and event[0] < 0xF0 and event[0] == status:
            out += event[1:]
        else:
            out += event
            status = event[0] if event[0] < 0xF0 else status
    out += vlq(max(end - now, 0)) + b"\xff\x2f\x00"
    return track_chunk(bytes(out))


def chorales() -> list[bytes]:
    folder = ROOT / "datasets" / "bach-chorales" / "midi"
    return [p.read_bytes() for p in sorted(folder.glob("*.mid"))]


def baseline(data: bytes) -> Piece:
    """The reader before symusic: miditoolkit parses, then the notes are quantized."""
    import miditoolkit

    return midi_to_piece(miditoolkit.MidiFile(file=io.BytesIO(data)))


def timed(
    readers: dict[str, Callable[[bytes], Piece]], files: list[bytes], repeat: int
) -> dict[str, tuple[float, list[Piece]]]:
    """CPU seconds each reader takes for all ``files`` (the best of ``repeat`` runs) and its pieces.

    The readers take turns, all files each (A, B, A, B, ...), so that load from other work drifting
    over time slows them alike while each reads a corpus back to back, as a folder is read."""
    best = dict.fromkeys(readers, float("inf"))
    pieces: dict[str, list[Piece]] = {}
    for _ in range(repeat):
        for name, read in readers.items():
            gc.collect()  # as timeit does: no collection of one reader's garbage during another's turn
            gc.disable()
            start = time.process_time()
            pieces[name] = [read(data) for data in files]
            best[name] = min(best[name], time.process_time() - start)
            gc.enable()
    return {name: (best[name], pieces[name]) for name in readers}


def same(a: Piece, b: Piece) -> bool:
    return (
        np.array_equal(a.notes, b.notes)
        and a.tracks == b.tracks
        and np.array_equal(a.time_signatures, b.time_signatures)
        and np.array_equal(a.tempos, b.tempos)
        and np.array_equal(a.key_signatures, b.key_signatures)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pop", type=int, default=150, help="pop-like multi-track files to make")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per reader (best is kept)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    corpora = {"pop multi-track": [pop_song(seed) for seed in range(args.pop)], "bach chorales": chorales()}
    for name, files in corpora.items():
        if not files:
            print(f"{name}: no files")
            continue
        notes = sum(len(midi_bytes_to_piece(d)) for d in files)
        exact = sum(_read_fast(split_chunks(d)) is None for d in files)
        print(f"\n{name}: {len(files)} files, {notes / len(files):.0f} notes per file, {exact} read by the exact pass")
        runs = timed({"symusic": midi_bytes_to_piece, "before": baseline}, files, args.repeat)
        (fast_s, fast), (base_s, _) = runs["symusic"], runs["before"]
        fallback_s, fallback = timed({"fallback": lambda d: midi_bytes_to_piece(d, reader="miditoolkit")}, files, 1)[
            "fallback"
        ]
        agree = sum(same(a, b) for a, b in zip(fast, fallback, strict=True))
        per = 1000 / len(files)
        print(f"  read_midi (symusic)          {fast_s * per:8.3f} ms/file (CPU time)")
        print(f"  miditoolkit, before          {base_s * per:8.3f} ms/file   symusic path is {base_s / fast_s:6.1f}x faster")
        print(f"  miditoolkit fallback, now    {fallback_s * per:8.3f} ms/file   symusic path is {fallback_s / fast_s:6.1f}x faster")
        print(f"  identical pieces (symusic path vs miditoolkit fallback): {agree}/{len(files)}")


if __name__ == "__main__":
    main()
