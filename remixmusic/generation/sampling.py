"""Sampling pieces from a language model over REMI tokens, with grammar-constrained decoding.

Any :class:`~remixmusic.generation.protocols.GenerativeModel` can generate: the transformer (through
:class:`~remixmusic.generation.model.TransformerDecoder`, with or without its KV cache) and the
count-based baselines (:meth:`~remixmusic.generation.baselines.ngram.NGramModel.decoder`,
:meth:`~remixmusic.generation.baselines.infinigram.InfiniGram.decoder`). A
:class:`~remixmusic.generation.protocols.Decoder` is stateful for one batch::

    logp = decoder.start(prefix)      # prefix (B, T) ids -> (B, T, vocab) log-probs; [:, t] predicts t+1
    logp = decoder.step(tokens)       # tokens (B,) appended -> (B, vocab) log-probs of the next token

Decoding (Holtzman et al. 2020 for nucleus sampling): at each step the tokens the tokenizer's
:class:`~remixmusic.tokenizer.Grammar` forbids are masked to ``-inf``, then temperature, top-k and top-p
filter what is left and one token per row is drawn by inverse-CDF sampling from that piece's own
random stream (seeded from ``(seed, piece index)``, so piece ``i`` of a seed is the same whatever ``n`` and
``batch_size``); every output is a complete grammatical sequence, so it always decodes to a valid piece.
A row ends at ``EOS`` (the model ended the piece, possibly before ``bars`` bars: :attr:`Generated.n_bars`
says how many it has) or when it opens bar ``bars + 1`` or reaches the token limit: then it is cut back
to its last complete note and closed with ``EOS``.

Surprisal. ``token_log_probs[i]`` is the natural log-probability of token ``i`` under the model
restricted to the tokens the grammar allows at that point (renormalized), at temperature 1 and without
top-k/top-p: a property of the model and the piece, not of the sampling settings. A note's log-probability
is the sum over the tokens :meth:`~remixmusic.tokenizer.RemiTokenizer.align` assigns to it (its Position,
if it is the first note there, and its Program/Pitch/Velocity/Duration tokens).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from remixmusic._util.parallel import progress_bar
from remixmusic.errors import ConfigError, RemixError, check_values, output_folder
from remixmusic.generation.model import MusicTransformer
from remixmusic.generation.protocols import Decoder, GenerativeModel
from remixmusic.music.notes import Piece
from remixmusic.tokenizer.remi import RemiTokenizer


def make_decoder(model: GenerativeModel, use_cache: bool = True) -> Decoder:
    """A fresh :class:`~remixmusic.generation.protocols.Decoder` for ``model``.

    ``use_cache=False`` (the transformer recomputing the whole sequence at every step: the benchmark's
    baseline) applies to :class:`MusicTransformer` only; the count-based models always decode
    incrementally.

    Raises:
        TypeError: if ``model`` is not a :class:`~remixmusic.generation.protocols.GenerativeModel`.
    """
    if isinstance(model, MusicTransformer):
        return model.decoder(use_cache)
    if not isinstance(model, GenerativeModel):
        raise TypeError(f"cannot generate with a {type(model).__name__}")
    return model.decoder()


@dataclass(frozen=True)
class SamplingConfig:
    """Every setting that, with the model and the prompt, determines the output (recorded in each sidecar).

    ``n`` pieces, decoded ``batch_size`` at a time. Piece ``i`` draws from a random stream seeded from
    ``(seed, i)`` alone, so it is the same piece whatever ``n`` and ``batch_size`` are (up to float
    rounding of batched arithmetic, which would have to land on a sampling boundary to change a token).
    ``bars`` is the generated length in bars after the prompt: a piece stops when it opens bar
    ``bars + 1``, and is shorter only when the model ends it (``None``: no limit); ``max_tokens`` limits
    the whole sequence (prompt, BOS and EOS included). ``temperature`` 0 is greedy; ``top_k`` 0 and ``top_p`` 1 are off.
    With a prompt, pieces continue its first ``prompt_bars`` bars, which ``include_prompt`` keeps in them.

    Raises:
        ConfigError: a value out of range (each check names its field).
    """

    n: int = 4
    bars: int | None = 16
    max_tokens: int = 2048
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0
    batch_size: int = 16
    prompt_bars: int = 4
    include_prompt: bool = True

    def __post_init__(self) -> None:
        checks = [
            (self.n >= 1, "n must be at least 1"),
            (self.bars is None or self.bars >= 1, "bars must be at least 1"),
            (self.max_tokens >= 2, "max_tokens must be at least 2"),
            (self.temperature >= 0, "temperature must be >= 0 (0 = greedy)"),
            (self.top_k >= 0, "top_k must be >= 0 (0 = off)"),
            (0 < self.top_p <= 1, "top_p must be in (0, 1]"),
            (self.batch_size >= 1, "batch_size must be at least 1"),
            (self.prompt_bars >= 1, "prompt_bars must be at least 1"),
        ]
        check_values("sampling", checks)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict (the sidecars' ``sampling``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplingConfig:
        """Inverse of :meth:`to_dict` (e.g. a sidecar's ``sampling``); missing fields take their defaults.

        Raises:
            ConfigError: an unknown key (named in the message) or an invalid value.
        """
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown sampling config field(s): {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass
class Generated:
    """One sampled piece with its tokens and per-token and per-note log-probabilities."""

    piece: Piece
    ids: np.ndarray  # the whole sequence, BOS .. EOS, prompt tokens included
    token_log_probs: np.ndarray  # per token of ``ids`` (natural log; NaN for BOS)
    note_log_probs: np.ndarray  # per note of ``piece``, in ``piece.notes`` order
    stop_reason: str  # "eos" (the model ended it), "bars" or "max_tokens"
    index: int  # position in the generated set (0..n-1)
    n_bars: int  # bars generated after the prompt (Bar tokens of the continuation); < config.bars: ended early
    config: SamplingConfig
    prompt: dict[str, Any] | None = None  # path, bars, included, n_notes (the first n_notes of ``piece``)


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Top-k, then nucleus (top-p) filtering: removed entries become ``-inf``; at least one stays."""
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, -math.inf)
    if top_p < 1.0:
        ordered, order = torch.sort(logits, dim=-1, descending=True)
        probs = ordered.softmax(dim=-1)
        # Drop a token when the tokens ranked before it already hold top_p of the mass.
        drop = (probs.cumsum(dim=-1) - probs) >= top_p
        logits = logits.masked_fill(drop.scatter(-1, order, drop), -math.inf)
    return logits


class PromptWarning(UserWarning):
    """A prompt read otherwise than asked: shorter than ``prompt_bars``, or with notes the model's
    vocabulary cannot write (drums, instruments, out-of-range pitches). One line each; generation goes on."""


def _prompt_bars(prompt: Piece, asked: int) -> int:
    """The bars of ``prompt`` to continue: ``asked``, or all of a shorter prompt (a warning: its missing
    bars would be silence the model continues after)."""
    have = max(prompt.n_bars, 1)
    if have >= asked:
        return asked
    warnings.warn(
        f"{prompt.source or 'prompt'}: {have} bar(s) long, shorter than the {asked} asked for "
        f"(--prompt-bars): the continuation starts after its bar {have}",
        PromptWarning,
        stacklevel=3,
    )
    return have


def _report_prompt(tokenizer: RemiTokenizer, prompt: Piece, bars: int, n_read: int) -> None:
    """Warn when the model reads fewer of the prompt's notes than its first ``bars`` bars hold."""
    held = prompt.crop(0, prompt.bar_step(bars))
    total, drums = len(held.notes), int(held.notes["is_drum"].sum())
    if not tokenizer.config.tempo_bins and len(held.tempos):
        warnings.warn(
            f"{prompt.source or 'prompt'}: its tempo ({held.tempos['qpm'][0]:g} qpm) is not kept: the model "
            "has no tempo tokens, and its pieces play at 120 qpm",
            PromptWarning,
            stacklevel=3,
        )
    if n_read >= total:
        return
    what = [f"{drums} drum note(s)"] if drums and not tokenizer.config.use_programs else []
    what.append("instruments, tempo changes and notes the tokenizer merges are not in its vocabulary")
    warnings.warn(
        f"{prompt.source or 'prompt'}: the model reads {n_read} of the {total} notes in its first {bars} "
        f"bar(s) ({'; '.join(what)})",
        PromptWarning,
        stacklevel=3,
    )


def prompt_ids(tokenizer: RemiTokenizer, prompt: Piece, bars: int) -> tuple[np.ndarray, int]:
    """Tokens of the prompt's first ``bars`` bars followed by the ``Bar`` that opens the next one.

    Returns the ids (no ``EOS``) and the number of prompt notes. The whole prompt is canonicalized by the
    tokenizer before its first bars are cut, so the prompt reads exactly as the opening of the piece did
    in training (canonicalizing the cut alone can keep a meter the whole piece's canonical form drops,
    e.g. a chorale's irregular 5/4 bar, and the model then continues a sequence it never saw).
    """
    # Bars as the prompt's own meter counts them (a 9/4 bar is one bar here, two 9/8 bars in tokens).
    head = tokenizer.canonicalize(tokenizer.canonicalize(prompt).crop(0, prompt.bar_step(bars)))
    if len(head.notes) == 0:
        readable = tokenizer.canonicalize(prompt).notes
        if len(readable):
            why = f": its first such note is in bar {int(prompt.bar_of(readable['onset'][:1])[0]) + 1} (raise --prompt-bars)"
        elif len(prompt.notes) and prompt.notes["is_drum"].all():
            why = ": it holds drum notes only, which the model does not write"
        else:
            why = ""
        raise RemixError(f"{prompt.source or 'prompt'}: no notes the model can read in its first {bars} bar(s){why}")
    ids = tokenizer.encode(head)[:-1]
    # Bars run to the last onset in the encoding; add the missing (empty) ones, then open bar bars + 1.
    missing = bars + 1 - int((ids == tokenizer.bar_token_id).sum())
    return np.concatenate([ids, np.full(max(missing, 1), tokenizer.bar_token_id)]), len(head.notes)


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run torch on one CPU thread inside the block (restoring the setting after).

    Incremental decoding multiplies matrices of a few rows: intra-op threads cost more to wake than they
    save, and on a busy machine they make each step several times slower (measured 10x for the tiny
    model's layers with 2 threads under load). CUDA work is unaffected.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def piece_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream piece ``index`` of ``seed`` samples from: one uniform draw per generated token.

    Seeded from ``(seed, index)`` only, so a piece does not depend on the batch it is decoded in. Raises
    ``ValueError`` for a negative ``seed`` or ``index``.
    """
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, index])))


def generate(
    model: GenerativeModel,
    tokenizer: RemiTokenizer,
    config: SamplingConfig,
    *,
    prompt: Piece | None = None,
    use_cache: bool = True,
    show_progress: bool = False,
) -> list[Generated]:
    """Sample ``config.n`` pieces from ``model`` (a transformer or a count-based model).

    ``config`` holds every sampling setting (see :class:`SamplingConfig`); it is what each result (and
    sidecar) records. The arguments outside it are the ``prompt`` (a piece: every sample continues its
    first ``config.prompt_bars`` bars from the next bar on, or all of a shorter prompt, with a
    :class:`PromptWarning`, as when the model cannot read some of its notes; the sidecar records the bars
    continued; ``include_prompt=False`` leaves those bars out, so the continuation starts at step 0), and options that never change the output:
    ``use_cache`` (the transformer's KV cache) and ``show_progress``. The same config and prompt give
    the same pieces, with or without the cache.

    Returns ``config.n`` results in index order, each a complete grammatical sequence.

    Raises:
        RemixError: a prompt with no notes the model can read in its first ``prompt_bars`` bars, or a
            token limit that leaves no room after the prompt.
        TypeError: ``model`` cannot generate.
    """
    n, batch_size = config.n, config.batch_size
    prompt_bars = config.prompt_bars
    if prompt is None:
        prefix, n_prompt_notes = np.array([tokenizer.bos_id]), 0
    else:
        prompt_bars = _prompt_bars(prompt, config.prompt_bars)
        prefix, n_prompt_notes = prompt_ids(tokenizer, prompt, prompt_bars)
        _report_prompt(tokenizer, prompt, prompt_bars, n_prompt_notes)
    # The prefix's last Bar opens the continuation: its bar index in the decoded pieces. It can exceed
    # prompt_bars, where the tokenizer splits a bar no meter token can say (9/4 becomes two 9/8 bars).
    first_bar = int((prefix == tokenizer.bar_token_id).sum()) - 1
    results: list[Generated] = []
    with progress_bar(transient=True, disable=not show_progress) as progress:
        task = progress.add_task("generating", total=n)
        for first in range(0, n, batch_size):
            size = min(batch_size, n - first)
            with single_threaded():
                rngs = [piece_rng(config.seed, first + row) for row in range(size)]
                rows = _decode_batch(model, tokenizer, prefix, config, rngs, use_cache)
            for offset, (ids, logp, reason) in enumerate(rows):
                results.append(
                    _finish(
                        tokenizer,
                        ids,
                        logp,
                        reason,
                        first + offset,
                        config,
                        prompt,
                        n_prompt_notes,
                        first_bar,
                        prompt_bars,
                    )
                )
            progress.advance(task, size)
    return results


def _decode_batch(
    model: GenerativeModel,
    tokenizer: RemiTokenizer,
    prefix: np.ndarray,
    config: SamplingConfig,
    rngs: list[np.random.Generator],
    use_cache: bool,
) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """Decode one continuation of ``prefix`` per random stream in ``rngs``, in lockstep; returns
    (ids, token log-probs, reason) per row."""
    size = len(rngs)
    decoder = make_decoder(model, use_cache)
    grammar = tokenizer.grammar().batch(size)
    eos, bar, pad = tokenizer.eos_id, tokenizer.bar_token_id, tokenizer.pad_id
    limit = config.max_tokens if decoder.max_length is None else min(config.max_tokens, decoder.max_length)
    if len(prefix) + 1 >= limit:
        raise RemixError(f"a limit of {limit} tokens leaves no room after the {len(prefix)}-token prompt")

    ids = np.tile(prefix, (size, 1))
    logp_prefix = decoder.start(torch.as_tensor(ids))
    # Score the prefix (the same for every row) under the grammar, token by token, and note the last
    # point where the sequence could end (EOS legal: right after BOS or after a complete note).
    token_logp = np.full((size, limit), np.nan)
    prefix_complete = 1
    for t, token in enumerate(prefix):
        allowed = grammar.mask()[0]
        if t > 0:
            masked = logp_prefix[0, t - 1].masked_fill(~torch.from_numpy(allowed), -math.inf)
            token_logp[:, t] = float(masked.log_softmax(-1)[token])
            prefix_complete = t if allowed[eos] else prefix_complete
        grammar.advance(np.full(size, token))
    logp = logp_prefix[:, -1]

    length = len(prefix)
    # Bars of the continuation opened so far (a prompt prefix already opens the first one).
    bars_open = np.full(size, int(length > 1), np.int64)
    last_complete = np.full(size, prefix_complete)  # per row: the longest prefix that EOS may close
    stop_at = np.zeros(size, np.int64)  # final length (EOS included) once a row has stopped
    reasons = [""] * size
    out = np.full((size, limit), pad, np.int64)
    out[:, :length] = prefix
    while True:
        active = stop_at == 0
        mask = torch.from_numpy(grammar.mask())
        last_complete = np.where(active & mask[:, eos].numpy(), length, last_complete)
        if length >= limit - 1:
            break
        stopped = torch.from_numpy(~active)
        mask[stopped] = False  # stopped rows only pad (their grammar state may be closed or dead)
        mask[stopped, pad] = True
        logp = logp.masked_fill(stopped[:, None], 0.0)  # whatever the model gives pad there (-inf too)
        allowed_logp = logp.masked_fill(~mask, -math.inf).log_softmax(-1)
        tokens = _sample(allowed_logp, config, rngs)
        token_logp[:, length] = allowed_logp[np.arange(size), torch.from_numpy(tokens)].numpy()
        bars_open += active & (tokens == bar)
        over_bars = active & (bars_open > config.bars) if config.bars is not None else np.zeros(size, bool)
        ended = active & (tokens == eos)
        for row in np.flatnonzero(ended).tolist():
            stop_at[row], reasons[row] = length + 1, "eos"
        for row in np.flatnonzero(over_bars).tolist():
            stop_at[row], reasons[row] = last_complete[row] + 1, "bars"
        out[:, length] = tokens
        grammar.advance(tokens)
        length += 1
        if not (stop_at == 0).any():
            break
        logp = decoder.step(torch.from_numpy(out[:, length - 1]))
    rows = []
    for row in range(size):
        end = int(stop_at[row] or last_complete[row] + 1)
        seq = np.concatenate([out[row, : end - 1], [eos]])
        scores = token_logp[row, :end].copy()
        if reasons[row] != "eos":
            scores[end - 1] = np.nan  # the closing EOS was not sampled
        rows.append((seq, scores, reasons[row] or "max_tokens"))
    return rows


def _sample(allowed_logp: torch.Tensor, config: SamplingConfig, rngs: list[np.random.Generator]) -> np.ndarray:
    """One token per row: the argmax at temperature 0, else inverse-CDF sampling with one uniform from
    each row's own stream (so a row's draws do not depend on the other rows)."""
    if config.temperature == 0:
        return allowed_logp.argmax(-1).numpy()
    logits = filter_logits(allowed_logp / config.temperature, config.top_k, config.top_p)
    probs = logits.softmax(-1).double().numpy()
    cdf = np.cumsum(probs, axis=1)
    target = np.array([rng.random() for rng in rngs]) * cdf[:, -1]
    tokens = (cdf <= target[:, None]).sum(axis=1)  # the first token whose cumulative mass exceeds target
    last_possible = probs.shape[1] - 1 - np.argmax(probs[:, ::-1] > 0, axis=1)
    return np.minimum(tokens, last_possible)


def _finish(
    tokenizer: RemiTokenizer,
    ids: np.ndarray,
    token_logp: np.ndarray,
    reason: str,
    index: int,
    config: SamplingConfig,
    prompt: Piece | None,
    n_prompt_notes: int,
    first_bar: int,
    prompt_bars: int,
) -> Generated:
    """Decode one row and sum its token log-probabilities per note; drop the prompt (the notes before
    bar ``first_bar``, where the continuation starts) if asked."""
    piece = tokenizer.decode(ids)
    owner = tokenizer.align(ids)
    note_logp = np.zeros(len(piece.notes))
    np.add.at(note_logp, owner[owner >= 0], np.nan_to_num(token_logp[owner >= 0]))
    prompt_info = None
    if prompt is not None:
        prompt_info = {
            "path": prompt.source,
            "bars": prompt_bars,
            "included": config.include_prompt,
            "n_notes": n_prompt_notes if config.include_prompt else 0,
        }
        if not config.include_prompt:
            starts = piece.bar_starts(piece.end + 1)
            start = int(starts[first_bar]) if first_bar < len(starts) else piece.end
            piece = piece.crop(start, max(piece.end, start) + 1)
            note_logp = note_logp[n_prompt_notes:]
    return Generated(
        piece=piece,
        ids=ids,
        token_log_probs=token_logp,
        note_log_probs=note_logp,
        stop_reason=reason,
        index=index,
        # The prefix's Bar tokens before its last one are the prompt's; that last one opens bar 1.
        n_bars=int((ids == tokenizer.bar_token_id).sum()) - max(first_bar, 0),
        config=config,
        prompt=prompt_info,
    )


def write_generated(
    results: list[Generated],
    out_dir: str | Path,
    model_info: dict[str, Any],
    stem: str = "piece",
    *,
    overwrite: bool = False,
) -> list[Path]:
    """Write ``{stem}_{index:03d}.mid`` and a ``.json`` sidecar with the same stem for every result.

    The sidecar records ``model_info`` (kind, name, id, path and the weights' sha256, as
    :func:`~remixmusic.generation.loading.load_model` gives it), every sampling setting, the prompt,
    ``stop_reason`` and ``n_bars`` (bars after the prompt; fewer than ``sampling.bars`` when the model
    ended the piece), and ``note_log_probs``: one natural-log probability per note, in the order of
    ``remixmusic.read_midi(<the .mid file>).notes``; the written file is read back to establish that
    order. Both files are written atomically. Returns the MIDI paths.

    ``out_dir`` must be new or empty, so that an analysis of it never mixes two runs; with ``overwrite``
    the pieces an earlier run wrote there (its ``.mid`` files and their sidecars) are removed first.

    Raises:
        RemixError: ``out_dir`` is a file; or it is not empty and ``overwrite`` is off; or, with
            ``overwrite``, it holds MIDI files that ``generate`` did not write (nothing is removed then).
    """
    from remixmusic._util.files import write_json
    from remixmusic.io.midi import read_midi, write_midi

    out_dir = Path(out_dir)
    for path in check_output(out_dir, overwrite, stem):
        path.unlink(missing_ok=True)
    paths = []
    for result in results:
        midi_path = out_dir / f"{stem}_{result.index:03d}.mid"
        write_midi(result.piece, midi_path)
        note_logp = _reorder(result.piece.notes, read_midi(midi_path).notes, result.note_log_probs)
        config = result.config
        sidecar = {
            "format": "remixmusic-generated",
            "version": 1,
            "midi": midi_path.name,
            "model": model_info,
            "sampling": config.to_dict(),
            "index": result.index,
            "prompt": result.prompt,
            "stop_reason": result.stop_reason,
            "n_bars": result.n_bars,
            "n_tokens": len(result.ids),
            "n_notes": len(note_logp),
            "log_prob_unit": "nats",
            "note_log_probs_order": "remixmusic.read_midi(midi).notes",
            "note_log_probs": [round(float(v), 6) for v in note_logp],
        }
        write_json(midi_path.with_suffix(".json"), sidecar)
        paths.append(midi_path)
    return paths


def check_output(out_dir: str | Path, overwrite: bool = False, stem: str = "piece") -> list[Path]:
    """Check that :func:`write_generated` may write a new set of pieces to ``out_dir`` (made if missing, so
    that a path it cannot make fails before any work; nothing is written in it); returns the files of an
    earlier set it would remove first (only with ``overwrite``): ``.mid`` files and sidecars that
    ``generate`` wrote (by sidecar format, or named ``{stem}_NNN``).

    Raises:
        RemixError: as :func:`write_generated`, before any work.
    """
    import json
    import re

    from remixmusic.io.midi import MIDI_SUFFIXES

    out_dir = output_folder(out_dir, "the generated pieces")  # made now: a bad path fails before the work
    if not any(out_dir.iterdir()):
        return []
    if not overwrite:
        raise RemixError(
            f"{out_dir} is not empty; choose another folder (-o) or pass --overwrite to replace the pieces "
            "an earlier run wrote there"
        )
    ours = re.compile(rf"\.?{re.escape(stem)}_\d+\.(mid|json)(\..*\.tmp)?")  # .tmp: interrupted writes
    earlier: set[Path] = set()
    for path in out_dir.iterdir():
        if path.is_file() and ours.fullmatch(path.name):
            earlier.add(path)
        elif path.is_file() and path.suffix == ".json":
            try:
                sidecar = json.loads(path.read_text())
            except (OSError, UnicodeDecodeError, ValueError):
                continue
            if isinstance(sidecar, dict) and sidecar.get("format") == "remixmusic-generated":
                midi = out_dir / Path(str(sidecar.get("midi") or path.with_suffix(".mid").name)).name
                earlier |= {path, midi}
    others = sorted(
        p for p in out_dir.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p not in earlier and p.is_file()
    )
    if others:
        raise RemixError(
            f"{out_dir} holds MIDI files generate did not write ({others[0]}, {len(others)} in all), which "
            "an analysis of the folder would mix with the new pieces; choose another folder (-o)"
        )
    return sorted(p for p in earlier if p.is_file())


def _reorder(written: np.ndarray, read_back: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` (one per note of ``written``) in the order of the same notes as read back from MIDI.

    Notes are matched on (onset, pitch, program, drum flag): MIDI keeps those exactly, while track
    numbering and overlapping durations may be normalized on the way.
    """

    def order(notes: np.ndarray) -> np.ndarray:
        return np.lexsort((notes["is_drum"], notes["program"], notes["pitch"], notes["onset"]))

    keys = ("onset", "pitch", "program", "is_drum")
    a, b = written[order(written)], read_back[order(read_back)]
    if len(a) != len(b) or any((a[k] != b[k]).any() for k in keys):
        raise RuntimeError("the MIDI round trip changed the generated notes")
    out = np.empty(len(values))
    out[order(read_back)] = values[order(written)]
    return out
