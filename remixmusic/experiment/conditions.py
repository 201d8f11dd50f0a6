"""The experiment's corpus and the pieces of every condition (:mod:`remixmusic.experiment.design`).

Every condition is a folder ``pieces/CONDITION/`` of MIDI files (with generation sidecars for sampled
pieces, so the analyser can segment them by surprisal and the report can play them) and a
``condition.json`` that records how it was made, the tune group of each piece (human pieces keep the
near-duplicate group of their dataset manifest; every other piece is a group of its own) and, for sampled
conditions, how many exact duplicates were removed. A folder is written atomically, so an interrupted
run never leaves half a condition, and a finished one is reused by the next run with the same settings.

Like with like: a model only sees music through its tokenizer (tracks merged, onsets on the token grid),
so training, human and patchwork pieces go through :meth:`~remixmusic.tokenizer.RemiTokenizer.canonicalize`
too, and every piece is cut to the generated length.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from remixmusic._util.files import atomic_directory, write_json
from remixmusic.data.tune_match import melody_duplicates
from remixmusic.errors import RemixError
from remixmusic.io.midi import read_midi, write_midi
from remixmusic.music.notes import MeterDraw, Piece, bar_length

if TYPE_CHECKING:
    from remixmusic.data.datasets import Dataset
    from remixmusic.generation.protocols import GenerativeModel
    from remixmusic.tokenizer.remi import RemiTokenizer

CONDITION_FILE = "condition.json"


@dataclass
class Corpus:
    """The dataset's splits as the experiment uses them: ``train`` (canonical, the reference), ``valid``
    and ``test`` (as read, less the test pieces whose melody is a training tune: ``melody_duplicates``
    names them), ``human`` (the test split canonical, cut to ``bars`` bars, non-empty) with its tune
    groups, and the train pieces' tune groups (for drawing training fractions)."""

    data: Dataset
    tokenizer: RemiTokenizer
    train: list[Piece]
    valid: list[Piece]
    test: list[Piece]
    human: list[Piece]
    human_groups: list[str]
    train_groups: list[str]
    melody_duplicates: list[str] = field(default_factory=list)


def load_corpus(data: Dataset, tokenizer: RemiTokenizer, bars: int, jobs: int, show_progress: bool) -> Corpus:
    """Read and canonicalize the dataset's splits (see :class:`Corpus`).

    Raises:
        RemixError: an empty train, valid or test split.
    """
    from remixmusic.novelty.groups import tune_groups

    splits = {s: data.pieces(s, jobs=jobs, show_progress=show_progress) for s in ("train", "valid", "test")}
    if not all(splits.values()):
        raise RemixError(
            f"dataset {data.name!r} needs non-empty train, valid and test splits for the experiment"
        )
    duplicate = melody_duplicates(splits["train"], splits["test"]) >= 0
    dropped = [Path(p.source or "").name for p, d in zip(splits["test"], duplicate, strict=True) if d]
    splits["test"] = [p for p, d in zip(splits["test"], duplicate, strict=True) if not d]
    train = [_canonical(tokenizer, p) for p in splits["train"]]
    human, groups = [], []
    for piece, group in zip(splits["test"], tune_groups(splits["test"]), strict=True):
        cut = _canonical(tokenizer, piece).crop_bars(0, bars)
        if len(cut.notes):
            human.append(cut)
            groups.append(group or Path(piece.source or "").stem)
    return Corpus(
        data,
        tokenizer,
        train,
        splits["valid"],
        splits["test"],
        human,
        groups,
        tune_groups(splits["train"]),
        dropped,
    )


def _canonical(tokenizer: RemiTokenizer, piece: Piece) -> Piece:
    out = tokenizer.canonicalize(piece)
    out.source = piece.source
    out.metadata = dict(piece.metadata)
    return out


@dataclass
class Condition:
    """One condition's pieces as analysed: ``pieces`` (read back from their files, so a resumed run
    analyses exactly what a fresh one does), one tune group per piece, and how it was made."""

    name: str
    folder: Path
    pieces: list[Piece]
    groups: list[str]
    info: dict[str, Any] = field(default_factory=dict)


def load_condition(folder: Path, key: str) -> Condition | None:
    """The condition saved in ``folder`` when it was made with cache ``key``, else ``None``."""
    try:
        meta = json.loads((folder / CONDITION_FILE).read_text())
    except (OSError, ValueError):
        return None
    if meta.get("key") != key:
        return None
    pieces = []
    for name, group in zip(meta["files"], meta["groups"], strict=True):
        piece = read_midi(folder / name)
        piece.metadata["group"] = group
        pieces.append(piece)
    return Condition(folder.name, folder, pieces, list(meta["groups"]), dict(meta.get("info", {})))


def save_condition(
    folder: Path,
    key: str,
    pieces: Sequence[Piece],
    groups: Sequence[str],
    info: dict[str, Any] | None = None,
    sidecars: Sequence[dict[str, Any] | None] | None = None,
) -> Condition:
    """Write ``pieces`` as ``piece_NNN.mid`` (with ``sidecars`` as ``.json`` beside them) and the
    condition file, atomically; return the condition read back."""
    with atomic_directory(folder) as tmp:
        files = []
        for i, piece in enumerate(pieces):
            name = f"piece_{i:03d}.mid"
            write_midi(piece, tmp / name)
            sidecar = sidecars[i] if sidecars is not None else None
            if sidecar is not None:
                write_json(tmp / f"piece_{i:03d}.json", {**sidecar, "midi": name})
            files.append(name)
        write_json(
            tmp / CONDITION_FILE, {"key": key, "files": files, "groups": list(groups), "info": info or {}}
        )
    loaded = load_condition(folder, key)
    assert loaded is not None
    return loaded


# -- human-derived conditions -------------------------------------------------------------------------------
def shuffled(pieces: Sequence[Piece], seed: int) -> list[Piece]:
    """Chance: each piece with the pitches of each of its tracks permuted at random (onsets, durations and
    the pitch content kept; the order, and with it every melodic pattern, destroyed)."""
    rng = np.random.default_rng(seed)
    out = []
    for piece in pieces:
        notes = piece.notes.copy()
        for track in np.unique(notes["track"]):
            at = np.nonzero(notes["track"] == track)[0]
            notes["pitch"][at] = notes["pitch"][rng.permutation(at)]
        out.append(piece.with_notes(notes))
    return out


def patchworks(train: Sequence[Piece], n: int, chunk_bars: int, bars: int, seed: int) -> list[Piece]:
    """Pure recombination of known granularity: ``n`` pieces of ``bars`` bars, each made of
    ``chunk_bars``-bar chunks of training pieces in its full texture (every voice of the chunk's bars, so
    a chorale patchwork is four-part like the chorales), all of one meter (a piece's first chunk's; only
    training pieces without meter changes are drawn), each chunk transposed so its top voice starts within
    two semitones of the previous chunk's register (the mean of its top voice), so the joins sound
    continuous (:meth:`~remixmusic.evaluation.planted.PlantedSetMaker.make_patchworks` draws melodies only).

    Raises:
        RemixError: fewer than three training pieces share a meter without meter changes.
    """
    rng = np.random.default_rng(seed)
    usable = (i for i, p in enumerate(train) if p.n_bars >= chunk_bars and len(p.notes))
    try:
        meters = MeterDraw(train, usable)
    except ValueError:
        raise RemixError("no meter shared by three training pieces without meter changes: no patchworks") from None
    out = []
    for _ in range(n):
        meter = meters.draw(rng)
        bar = bar_length(*meter)
        chunks, last = [], None
        for c in range(bars // chunk_bars):
            for _attempt in range(50):
                piece = train[meters.piece(meter, rng)]
                first = int(rng.integers(0, max(1, piece.n_bars - chunk_bars + 1)))
                notes = piece.crop(first * bar, (first + chunk_bars) * bar).notes.copy()
                if len(notes) >= 2:
                    break
            notes["onset"] += c * chunk_bars * bar
            notes["duration"] = np.minimum(notes["duration"], (c + 1) * chunk_bars * bar - notes["onset"])
            top = _skyline_mean(notes)
            shift = 0 if last is None else round(last - top) + int(rng.integers(-2, 3))
            shift = int(np.clip(shift, 21 - notes["pitch"].min(), 108 - notes["pitch"].max()))
            notes["pitch"] += shift
            last = top + shift
            chunks.append(notes)
        ts = np.array([(0, *meter)], dtype=train[0].time_signatures.dtype)
        out.append(
            Piece(notes=np.concatenate(chunks), time_signatures=ts, metadata={"chunk_bars": chunk_bars})
        )
    return out


def _skyline_mean(notes: np.ndarray) -> float:
    """Mean pitch of the highest note at each onset."""
    onsets, first = np.unique(notes["onset"], return_inverse=True)
    top = np.full(len(onsets), -1)
    np.maximum.at(top, first.ravel(), notes["pitch"].astype(np.int64))
    return float(top.mean())


def prompt_pieces(corpus: Corpus, n: int, prompt_bars: int, bars: int, seed: int) -> list[int]:
    """Indices into ``corpus.test`` of up to ``n`` held-out pieces long enough to hold a prompt and a
    continuation (``bars`` bars in all), drawn with ``seed``, one per tune group."""
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    chosen = []
    for i in rng.permutation(len(corpus.test)):
        piece = corpus.test[int(i)]
        group = _group_of(piece)
        if piece.n_bars >= bars and group not in seen:
            seen.add(group)
            chosen.append(int(i))
        if len(chosen) == n:
            break
    return sorted(chosen)


def _group_of(piece: Piece) -> str:
    from remixmusic.novelty.groups import tune_group

    return tune_group(piece) or Path(piece.source or "").stem


# -- sampled conditions -------------------------------------------------------------------------------------
def sample_distinct(
    model: GenerativeModel,
    tokenizer: RemiTokenizer,
    n: int,
    bars: int,
    seeds: Sequence[int],
    temperature: float = 1.0,
    top_p: float = 1.0,
    identity: dict[str, Any] | None = None,
) -> tuple[list[Piece], list[dict[str, Any]], dict[str, Any]]:
    """``n`` pieces of ``bars`` bars sampled at one setting, spread evenly over ``seeds``, exact
    duplicates (same notes) removed. Returns the pieces, their generation sidecars and a summary
    (``n_sampled``, ``n_duplicates``, ``n_empty``, ``n_distinct``)."""
    from remixmusic.generation.sampling import SamplingConfig, generate

    per_seed = -(-n // len(seeds))
    pieces: list[Piece] = []
    sidecars: list[dict[str, Any]] = []
    seen: set[str] = set()
    sampled = duplicates = empty = 0
    for seed in seeds:
        config = SamplingConfig(n=per_seed, bars=bars, temperature=temperature, top_p=top_p, seed=seed)
        for result in generate(model, tokenizer, config):
            sampled += 1
            if not len(result.piece.notes):
                empty += 1
                continue
            digest = _notes_digest(result.piece)
            if digest in seen:
                duplicates += 1
                continue
            seen.add(digest)
            pieces.append(result.piece)
            sidecars.append(_sidecar(result, identity or {}))
    summary = {"n_sampled": sampled, "n_duplicates": duplicates, "n_empty": empty, "n_distinct": len(pieces)}
    return pieces[:n], sidecars[:n], summary


def continue_prompts(
    model: GenerativeModel,
    tokenizer: RemiTokenizer,
    prompts: Sequence[Piece],
    prompt_bars: int,
    bars: int,
    seed: int,
    identity: dict[str, Any] | None = None,
) -> tuple[list[Piece], list[dict[str, Any]]]:
    """Each prompt's first ``prompt_bars`` bars continued by ``model`` for ``bars - prompt_bars`` bars;
    only the continuations are kept (they start at step 0)."""
    from remixmusic.generation.sampling import SamplingConfig, generate

    config = SamplingConfig(
        n=1, bars=bars - prompt_bars, seed=seed, prompt_bars=prompt_bars, include_prompt=False
    )
    pieces, sidecars = [], []
    for prompt in prompts:
        result = generate(model, tokenizer, config, prompt=prompt)[0]
        pieces.append(result.piece)
        sidecars.append(_sidecar(result, identity or {}))
    return pieces, sidecars


def _sidecar(result: Any, identity: dict[str, Any]) -> dict[str, Any]:
    """The generation sidecar of one result (as :func:`~remixmusic.generation.sampling.write_generated`
    writes, less the per-note log-probabilities, whose order depends on the written file)."""
    return {
        "format": "remixmusic-generated",
        "version": 1,
        "model": identity,
        "sampling": result.config.to_dict(),
        "index": result.index,
        "prompt": result.prompt,
        "stop_reason": result.stop_reason,
        "n_tokens": len(result.ids),
    }


def _notes_digest(piece: Piece) -> str:
    notes = piece.notes
    data = np.stack([notes["onset"], notes["duration"], notes["pitch"]]).astype(np.int64).tobytes()
    return hashlib.sha1(data).hexdigest()
