"""REMI tokenization of pieces on the step grid, its grammar, token-to-note alignment and augmentation.

Implements REMI (Huang & Yang, "Pop Music Transformer", 2020): time is written as ``Bar`` and
``Position`` tokens and each note as ``Pitch`` + ``Duration``; optional ``Velocity`` bins, ``Tempo``
bins, ``TimeSig`` tokens and REMI+ ``Program`` tokens (von Rütte et al., FIGARO, 2023) follow the
options MidiTok's REMI exposes. A sequence reads::

    BOS  (Bar [TimeSig] [Tempo]  (Position_p  ([Program_x] Pitch_p [Velocity_v] Duration_d)+ )* )*  EOS

Unlike a lossy event encoding, the vocabulary is built so that the step grid is represented exactly:
every position of a bar and every duration up to ``max_duration`` has a token. What a configuration
cannot represent is made explicit by :meth:`RemiTokenizer.canonicalize`, and the tokenizer is lossless
on canonical pieces: ``decode(encode(p)) == canonicalize(p)`` and ``encode(decode(ids)) == ids`` for
every sequence the :class:`Grammar` accepts. The grammar admits only the canonical order (positions
strictly increasing in a bar, notes at one position ordered by program then strictly increasing pitch,
meter and tempo tokens only where they change), which is what makes the second identity hold and what
constrained decoding uses.

Encoding and decoding are vectorized over notes and tokens (numpy scatter/gather, forward fills); the
only Python loops run over meter changes and, rarely, over bars whose length no meter token can say.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from remixmusic._util.arrays import _changes, _ffill
from remixmusic.errors import ConfigError, TokenizerError
from remixmusic.music.notes import (
    DEFAULT_QPM,
    TEMPO_DTYPE,
    TIME_SIGNATURE_DTYPE,
    Piece,
    Track,
    empty_notes,
)
from remixmusic.tokenizer.config import (
    BAR,
    BOS,
    DEFAULT_BAR,
    DRUM_PROGRAM,
    DURATION,
    EOS,
    PAD,
    PITCH,
    POSITION,
    PROGRAM,
    TEMPO,
    TIMESIG,
    VELOCITY,
    WHOLE_NOTE,
    TokenizerConfig,
    as_sequence,
)
from remixmusic.tokenizer.grammar import Grammar


class RemiTokenizer:
    """REMI tokenizer with a deterministic vocabulary built from a :class:`TokenizerConfig`.

    Ids: ``PAD`` 0, ``BOS`` 1, ``EOS`` 2, ``Bar`` 3, then TimeSig, Tempo, Position, Program, Pitch,
    Velocity and Duration blocks (absent blocks are empty). ``Position_p`` and ``Duration_d`` count token
    time units (``config.resolution`` grid steps each).
    """

    def __init__(self, config: TokenizerConfig | None = None) -> None:
        self.config = config or TokenizerConfig()
        cfg = self.config
        self.resolution = cfg.resolution
        res = self.resolution

        # Meters with tokens: every n/d whose bar fits max_bar_length and is a whole number of units.
        meters = [
            (num, den)
            for den in sorted(cfg.time_signature_denominators)
            for num in range(1, cfg.max_bar_length * den // WHOLE_NOTE + 1)
            if (num * WHOLE_NOTE // den) % res == 0
        ]
        if not cfg.use_time_signatures:
            meters = []
        self.time_signatures: list[tuple[int, int]] = meters
        self.meter_lengths = np.array([n * WHOLE_NOTE // d for n, d in self.time_signatures], np.int64)
        self.tempo_values = (
            np.round(np.geomspace(cfg.tempo_range[0], cfg.tempo_range[1], cfg.tempo_bins), 2)
            if cfg.tempo_bins
            else np.zeros(0)
        )
        n_positions = (cfg.max_bar_length if cfg.use_time_signatures else DEFAULT_BAR) // res
        self.programs = np.arange(DRUM_PROGRAM + 1) if cfg.use_programs else np.zeros(0, np.int64)
        self.pitches = np.arange(cfg.pitch_range[0], cfg.pitch_range[1] + 1)
        n = cfg.velocity_bins
        self.velocity_values = (
            np.round(1 + (np.arange(n) + 0.5) * 127 / n - 0.5).astype(np.int64) if n else None
        )
        self.durations = np.arange(1, cfg.max_duration // res + 1)  # in token units
        velocities = self.velocity_values if self.velocity_values is not None else np.zeros(0, np.int64)

        blocks: list[tuple[int, list[str], np.ndarray]] = [
            (PAD, ["PAD"], np.zeros(1, np.int64)),
            (BOS, ["BOS"], np.zeros(1, np.int64)),
            (EOS, ["EOS"], np.zeros(1, np.int64)),
            (BAR, ["Bar"], np.zeros(1, np.int64)),
            (TIMESIG, [f"TimeSig_{a}/{b}" for a, b in self.time_signatures], np.arange(len(meters))),
            (TEMPO, [f"Tempo_{v:g}" for v in self.tempo_values], np.arange(len(self.tempo_values))),
            (POSITION, [f"Position_{p}" for p in range(n_positions)], np.arange(n_positions)),
            (PROGRAM, [f"Program_{p}" if p < DRUM_PROGRAM else "Program_drums" for p in self.programs],
             self.programs),
            (PITCH, [f"Pitch_{p}" for p in self.pitches], self.pitches),
            (VELOCITY, [f"Velocity_{v}" for v in velocities], np.arange(n)),
            (DURATION, [f"Duration_{d}" for d in self.durations], self.durations),
        ]  # fmt: skip
        self._vocab: list[str] = []
        types, values = [], []
        self.offsets: dict[int, int] = {}
        for kind, names, vals in blocks:
            self.offsets[kind] = len(self._vocab)
            self._vocab += names
            types.append(np.full(len(names), kind, np.int64))
            values.append(np.asarray(vals, np.int64))
        self.token_type = np.concatenate(types)
        """Type (``PAD`` .. ``DURATION``) of each token id."""
        self.token_value = np.concatenate(values)
        """Value of each token id: meter/tempo/velocity index, position/duration units, program or pitch."""
        self._index = {s: i for i, s in enumerate(self._vocab)}
        self._meter_index = {m: i for i, m in enumerate(self.time_signatures)}
        # For each bar length, the meter token that says it when the piece's own meter cannot (or -1):
        # quarter-note meters first, then eighths, sixteenths, halves, wholes (24 steps: 2/4, not 1/2).
        self._meter_of_length = np.full(cfg.max_bar_length + 1, -1, np.int64)
        preference = sorted(
            range(len(meters)), key=lambda i: (meters[i][1] != 4, meters[i][1] < 4, meters[i][1])
        )
        for i in reversed(preference):
            self._meter_of_length[self.meter_lengths[i]] = i

    # -- vocabulary -----------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self._vocab)

    @property
    def vocab(self) -> list[str]:
        return list(self._vocab)

    pad_id = PAD
    bos_id = BOS
    eos_id = EOS
    bar_token_id = BAR

    def token_to_str(self, token: int) -> str:
        if not 0 <= token < self.vocab_size:
            raise TokenizerError(f"token id {token} is outside the vocabulary (size {self.vocab_size})")
        return self._vocab[token]

    def str_to_token(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise TokenizerError(f"unknown token {name!r}") from None

    def __repr__(self) -> str:
        return f"RemiTokenizer(vocab_size={self.vocab_size}, config={self.config})"

    # -- canonical form -------------------------------------------------------------------------
    def canonicalize(self, piece: Piece) -> Piece:
        """The piece as this vocabulary represents it: what ``decode(encode(piece))`` returns.

        Pitches outside ``pitch_range`` are dropped (and drums when programs are off); tracks are merged
        by program (one track when programs are off); onsets are rounded to the token resolution within
        their bar and durations to ``resolution .. max_duration``; of notes sharing onset, track and pitch
        the longest is kept; velocities become their bin's value (or ``default_velocity``). Bars run to
        the last onset; a bar whose length no meter token says (a truncated bar of an odd length, a meter
        longer than ``max_bar_length``) has its bar line moved by a step or is split (see ``_rebar``).
        The meter map gets an entry at each bar where the meter changes, the tempo map one per bar where
        the binned tempo (in force at the bar start) changes; key signatures are dropped. Idempotent.
        """
        return self._piece(self._canonical(piece), piece)

    def _canonical(self, piece: Piece) -> _Layout:
        """The canonical notes and bars of a piece as plain arrays (see :meth:`canonicalize`)."""
        cfg, res = self.config, self.resolution
        notes = piece.notes
        keep = (notes["pitch"] >= cfg.pitch_range[0]) & (notes["pitch"] <= cfg.pitch_range[1])
        if not cfg.use_programs:
            keep &= ~notes["is_drum"]
        notes = notes[keep]
        if len(notes) == 0:
            return _Layout.empty()

        onset = notes["onset"].astype(np.int64)
        program = (
            np.where(notes["is_drum"], DRUM_PROGRAM, notes["program"]).astype(np.int64)
            if cfg.use_programs
            else np.zeros(len(notes), np.int64)
        )
        if self.velocity_values is None:
            velocity = np.full(len(notes), cfg.default_velocity, np.int64)
        else:
            velocity = self.velocity_values[self._velocity_bin(notes["velocity"])]
        duration = np.clip(
            (notes["duration"].astype(np.int64) + res // 2) // res * res, res, cfg.max_duration
        )

        # Rounding moves an onset by at most res/2, so bars up to the last onset + res cover them all.
        starts, meters = self._bar_grid(piece, int(onset.max()) + res)
        if res > 1:  # bars are whole token units long: a rounded onset stays in its bar or on its end
            bar_start = starts[np.searchsorted(starts, onset, "right") - 1]
            onset = bar_start + (onset - bar_start + res // 2) // res * res
        n_bars = int(np.searchsorted(starts, onset.max(), "right"))
        starts, meters = starts[:n_bars], meters[:n_bars]

        pitch = notes["pitch"].astype(np.int64)
        order = np.lexsort((-duration, pitch, program, onset))
        onset, program, pitch = onset[order], program[order], pitch[order]
        first = np.ones(len(order), bool)  # of notes sharing onset, program and pitch keep the longest
        first[1:] = (np.diff(onset) != 0) | (np.diff(program) != 0) | (np.diff(pitch) != 0)
        order = order[first]
        return _Layout(
            onset=onset[first],
            duration=duration[order],
            pitch=pitch[first],
            velocity=velocity[order],
            program=program[first],
            starts=starts,
            meters=meters,
            tempos=self._tempo_bins(piece, starts),
        )

    def _piece(self, layout: _Layout, like: Piece | None) -> Piece:
        """A :class:`Piece` of canonical notes and bars; tracks are the program keys in ascending order."""
        notes = empty_notes(len(layout.onset))
        notes["onset"] = layout.onset
        notes["duration"] = layout.duration
        notes["pitch"] = layout.pitch
        notes["velocity"] = layout.velocity
        tracks = [Track()]
        if self.config.use_programs and len(layout.program):
            keys, track = np.unique(layout.program, return_inverse=True)
            notes["track"] = track.reshape(-1)
            notes["is_drum"] = layout.program == DRUM_PROGRAM
            notes["program"] = layout.program % DRUM_PROGRAM
            tracks = [Track(program=int(k) % DRUM_PROGRAM, is_drum=bool(k == DRUM_PROGRAM)) for k in keys]
        starts = layout.starts
        time_signatures = np.zeros(0, TIME_SIGNATURE_DTYPE)
        if self.config.use_time_signatures and len(starts):
            change = _changes(layout.meters)
            time_signatures = np.zeros(int(change.sum()), TIME_SIGNATURE_DTYPE)
            time_signatures["onset"] = starts[change]
            meter_array = np.array(self.time_signatures, np.int64)
            time_signatures["numerator"] = meter_array[layout.meters[change], 0]
            time_signatures["denominator"] = meter_array[layout.meters[change], 1]
        tempo_map = np.zeros(0, TEMPO_DTYPE)
        if self.config.tempo_bins and len(starts):
            change = _changes(layout.tempos)
            tempo_map = np.zeros(int(change.sum()), TEMPO_DTYPE)
            tempo_map["onset"] = starts[change]
            tempo_map["qpm"] = self.tempo_values[layout.tempos[change]]
        return Piece(
            notes=notes,
            tracks=tracks,
            time_signatures=time_signatures,
            tempos=tempo_map,
            source=None if like is None else like.source,
            metadata={} if like is None else dict(like.metadata),
        )

    def _velocity_bin(self, velocity: np.ndarray) -> np.ndarray:
        assert self.velocity_values is not None
        mids = (self.velocity_values[1:] + self.velocity_values[:-1]) / 2
        return np.searchsorted(mids, velocity, "right")

    def _tempo_bins(self, piece: Piece, starts: np.ndarray) -> np.ndarray:
        """Tempo bin in force at each bar start (nearest bin in log tempo), or -1s without tempo tokens."""
        if not self.config.tempo_bins:
            return np.full(len(starts), -1, np.int64)
        tempos = piece.tempos
        i = np.searchsorted(tempos["onset"], starts, "right") - 1
        qpm = np.where(i >= 0, tempos["qpm"][np.maximum(i, 0)] if len(tempos) else DEFAULT_QPM, DEFAULT_QPM)
        logs = np.log(self.tempo_values)
        return np.searchsorted((logs[1:] + logs[:-1]) / 2, np.log(np.maximum(qpm, 1e-6)), "right")

    def _bar_grid(self, piece: Piece, until: int) -> tuple[np.ndarray, np.ndarray]:
        """Start step and meter token index of every bar starting at or before ``until``."""
        if not self.config.use_time_signatures:
            starts = np.arange(0, until + 1, DEFAULT_BAR, dtype=np.int64)
            return starts, np.full(len(starts), -1, np.int64)
        starts, lengths, own = self._piece_bars(piece, until)
        sayable = lengths <= self.config.max_bar_length
        meters = np.where(sayable, self._meter_of_length[np.where(sayable, lengths, 0)], -1)
        own_fits = (own >= 0) & (self.meter_lengths[np.maximum(own, 0)] == lengths)
        meters = np.where(own_fits, own, meters)
        if (meters >= 0).all():
            keep = starts <= until
            return starts[keep], meters[keep]
        return self._rebar(piece, until)

    def _piece_bars(self, piece: Piece, until: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The piece's own bars up to ``until`` (and the one after): start, length, meter token or -1."""
        meter_map = piece.meter_map()
        starts = piece.bar_starts(until + 1)
        segment = np.searchsorted(meter_map["onset"], starts, "right") - 1
        natural = meter_map["numerator"].astype(np.int64) * WHOLE_NOTE // meter_map["denominator"]
        lengths = np.diff(np.append(starts, starts[-1] + natural[segment[-1]]))
        own = np.array([self._meter_index.get((int(n), int(d)), -1) for _, n, d in meter_map], np.int64)
        return starts, lengths, own[segment]

    def _rebar(self, piece: Piece, until: int) -> tuple[np.ndarray, np.ndarray]:
        """Bar lines for a piece where some bar has no meter token; a loop over bars, only for such pieces.

        Each bar ends at the bar line nearest its own that a meter token can reach from where the bar
        starts: a truncated bar of 28 steps becomes 9/16 (27 steps) and the bar lines after it move by a
        step, so later meters keep their tokens; bar lines never move by more than half the shortest
        meter. A bar longer than ``max_bar_length`` is split (see :meth:`_split_meter`). Notes never move.
        """
        starts, lengths, own = self._piece_bars(piece, until + self.config.max_bar_length)
        ends = starts + lengths
        out_starts: list[int] = []
        out_meters: list[int] = []
        c = 0
        for j in range(len(starts)):
            if c > until:
                break
            while ends[j] - c > self.config.max_bar_length:
                out_starts.append(c)
                out_meters.append(self._split_meter(int(ends[j] - c)))
                c += int(self.meter_lengths[out_meters[-1]])
            span = int(ends[j] - c)
            if span <= 0:
                continue
            meter = int(self._nearest_meter[span])
            if own[j] >= 0 and self.meter_lengths[own[j]] == self.meter_lengths[meter]:
                meter = int(own[j])
            out_starts.append(c)
            out_meters.append(meter)
            c += int(self.meter_lengths[meter])
        return np.array(out_starts, np.int64), np.array(out_meters, np.int64)

    @cached_property
    def _nearest_meter(self) -> np.ndarray:
        """For each span up to ``max_bar_length``, the meter token whose bar is nearest (shorter on ties)."""
        lengths = np.unique(self.meter_lengths)
        span = np.arange(self.config.max_bar_length + 1)
        nearest = lengths[np.argmin(np.abs(span[:, None] - lengths[None, :]), axis=1)]
        return self._meter_of_length[nearest]

    def _split_meter(self, span: int) -> int:
        """Meter of the first part of a bar too long for any token: halves, thirds or quarters of it when
        they have a token (4/1 becomes two 8/4 bars), else the longest meter."""
        for parts in (2, 3, 4):
            if span % parts == 0 and span // parts <= self.config.max_bar_length:
                meter = int(self._meter_of_length[span // parts])
                if meter >= 0:
                    return meter
        return int(self._meter_of_length[self.meter_lengths.max()])

    # -- encode / decode ------------------------------------------------------------------------
    def encode(self, piece: Piece) -> np.ndarray:
        """Token ids of a piece (canonicalized first), from ``BOS`` to ``EOS``; vectorized over notes."""
        layout = self._canonical(piece)
        cfg, off, res = self.config, self.offsets, self.resolution
        starts, meters, tempos, onset = layout.starts, layout.meters, layout.tempos, layout.onset
        n_bars = len(starts)
        if n_bars == 0:
            return np.array([BOS, EOS], np.int64)
        ts_flag = _changes(meters) if cfg.use_time_signatures else np.zeros(n_bars, bool)
        tempo_flag = _changes(tempos) if cfg.tempo_bins else np.zeros(n_bars, bool)
        bar_size = 1 + ts_flag.astype(np.int64) + tempo_flag

        bar = np.searchsorted(starts, onset, "right") - 1
        new_pos = np.ones(len(onset), bool)
        new_pos[1:] = onset[1:] != onset[:-1]
        note_size = new_pos + (2 + cfg.use_programs + (self.velocity_values is not None))
        # Tokens before note i: BOS, the blocks of bars up to its own, the notes before it.
        note_cum = np.concatenate([[0], np.cumsum(note_size)])
        bar_cum = np.concatenate([[0], np.cumsum(bar_size)])
        note_at = 1 + note_cum[:-1] + bar_cum[bar + 1]
        bar_at = 1 + bar_cum[:-1] + note_cum[np.searchsorted(bar, np.arange(n_bars), "left")]

        ids = np.empty(2 + bar_cum[-1] + note_cum[-1], np.int64)
        ids[0], ids[-1] = BOS, EOS
        ids[bar_at] = BAR
        ids[bar_at[ts_flag] + 1] = off[TIMESIG] + meters[ts_flag]
        ids[bar_at[tempo_flag] + 1 + ts_flag[tempo_flag]] = off[TEMPO] + tempos[tempo_flag]
        ids[note_at[new_pos]] = off[POSITION] + (onset - starts[bar])[new_pos] // res
        at = note_at + new_pos
        if cfg.use_programs:
            ids[at] = off[PROGRAM] + layout.program
            at = at + 1
        ids[at] = off[PITCH] + layout.pitch - cfg.pitch_range[0]
        at = at + 1
        if self.velocity_values is not None:
            ids[at] = off[VELOCITY] + self._velocity_bin(layout.velocity)
            at = at + 1
        ids[at] = off[DURATION] + layout.duration // res - 1
        return ids

    def decode(self, ids: np.ndarray | list[int]) -> Piece:
        """The piece a token sequence describes; vectorized scan over token types.

        Reading stops at the first ``EOS``. Sequences outside the grammar decode leniently: a note is
        read wherever a Duration follows its Pitch (and Program/Velocity) tokens, other tokens out of
        place are ignored, a note before any Position sits at the bar start, a first bar without a meter
        token is 4/4.
        """
        return self._piece(self._read(ids)[0], None)

    def _read(self, ids: np.ndarray | list[int]) -> tuple[_Layout, np.ndarray]:
        """Notes and bars in token order, and the index of each note's Duration token."""
        ids = as_sequence(ids)
        if len(ids) and (ids.min() < 0 or ids.max() >= self.vocab_size):
            bad = ids[(ids < 0) | (ids >= self.vocab_size)][0]
            raise TokenizerError(f"token id {bad} is outside the vocabulary (size {self.vocab_size})")
        eos = np.nonzero(ids == EOS)[0]
        if len(eos):
            ids = ids[: eos[0]]
        kind, value = self.token_type[ids], self.token_value
        cfg, res = self.config, self.resolution

        # Work on the token indices of each type; searchsorted finds the bar (or position) in force.
        bar_at = np.flatnonzero(kind == BAR)
        n_bars = len(bar_at)
        per_bar = []
        for event, used in ((TIMESIG, cfg.use_time_signatures), (TEMPO, cfg.tempo_bins)):
            values = np.full(n_bars, -1, np.int64)
            if used:
                at = np.flatnonzero(kind == event)
                bar = np.searchsorted(bar_at, at, "right") - 1
                values[bar[bar >= 0]] = value[ids[at[bar >= 0]]]
            per_bar.append(_ffill(values))
        meters, tempos = per_bar
        if cfg.use_time_signatures:
            meters = np.where(meters >= 0, meters, self._meter_index[(4, 4)])
        if cfg.tempo_bins:
            tempos = np.where(tempos >= 0, tempos, self._tempo_bins(Piece(), np.zeros(1, np.int64))[0])
        lengths = self.meter_lengths[meters] if cfg.use_time_signatures else np.full(n_bars, DEFAULT_BAR)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)[:n_bars]

        dur_at = np.flatnonzero(kind == DURATION)
        bar = np.searchsorted(bar_at, dur_at, "right") - 1
        pitch_at = dur_at - 1 - (self.velocity_values is not None)
        ok = (bar >= 0) & (pitch_at >= 0)
        ok[ok] = kind[pitch_at[ok]] == PITCH
        if self.velocity_values is not None:
            ok &= kind[dur_at - 1] == VELOCITY
        if cfg.use_programs:
            ok[ok] = (pitch_at[ok] >= 1) & (kind[np.maximum(pitch_at[ok] - 1, 0)] == PROGRAM)
        dur_at, pitch_at, bar = dur_at[ok], pitch_at[ok], bar[ok]
        # The position of a note: the last Position token since its bar line (else the bar start).
        pos_at = np.flatnonzero(kind == POSITION)
        last = pos_at[np.maximum(np.searchsorted(pos_at, dur_at, "right") - 1, 0)] if len(pos_at) else dur_at
        position = np.where((last < dur_at) & (last > bar_at[bar]), value[ids[last]], 0)

        n_notes = len(dur_at)
        layout = _Layout(
            onset=starts[bar] + position * res,
            duration=value[ids[dur_at]] * res,
            pitch=value[ids[pitch_at]],
            velocity=(
                np.full(n_notes, cfg.default_velocity, np.int64)
                if self.velocity_values is None
                else self.velocity_values[value[ids[dur_at - 1]]]
            ),
            program=value[ids[pitch_at - 1]] if cfg.use_programs else np.zeros(n_notes, np.int64),
            starts=starts,
            meters=meters,
            tempos=tempos,
        )
        return layout, dur_at

    # -- alignment and augmentation ---------------------------------------------------------------
    def align(self, ids: np.ndarray | list[int]) -> np.ndarray:
        """For each token, the index of the note it belongs to in ``decode(ids).notes``, else -1.

        A note owns its Program, Pitch, Velocity and Duration tokens, and the first note at a position
        also owns the Position token: summing a note's token log-probabilities then gives the surprisal
        of *where* and *what* it is. Bar, TimeSig, Tempo, BOS, EOS and PAD belong to no note. Needs a
        sequence in canonical order (any sequence the grammar accepts).
        """
        ids = as_sequence(ids)
        layout, dur_at = self._read(ids)
        step = [np.diff(layout.onset), np.diff(layout.program), np.diff(layout.pitch)]
        increasing = (step[0] > 0) | ((step[0] == 0) & ((step[1] > 0) | ((step[1] == 0) & (step[2] > 0))))
        if not increasing.all():
            raise TokenizerError("align needs a token sequence in canonical order (one the grammar accepts)")
        owner = np.full(len(ids), -1, np.int64)
        first = dur_at - 1 - (self.velocity_values is not None) - self.config.use_programs
        note = np.arange(len(dur_at))
        for k in range(self._note_tokens):
            owner[first + k] = note
        at_position = first - 1
        has_position = at_position >= 0
        has_position[has_position] = self.token_type[ids[at_position[has_position]]] == POSITION
        owner[at_position[has_position]] = note[has_position]
        return owner

    @cached_property
    def _note_tokens(self) -> int:
        return 2 + self.config.use_programs + (self.velocity_values is not None)

    def _pitched(self, ids: np.ndarray) -> np.ndarray:
        """Mask of the Pitch tokens of pitched (not drum) notes."""
        pitched = self.token_type[ids] == PITCH
        if self.config.use_programs:
            before = np.concatenate([[PAD], ids[:-1]])
            pitched &= before != self.offsets[PROGRAM] + DRUM_PROGRAM
        return pitched

    def transpose_range(self, ids: np.ndarray | list[int], max_shift: int | None = None) -> tuple[int, int]:
        """Smallest and largest shift in semitones that keeps every pitched note inside ``pitch_range``,
        clamped to ``-max_shift..max_shift`` when given: the shifts transposition augmentation draws from
        (the trainer one at random per window, the count-based baselines all of them). Drums do not move.

        Returns ``(low, high)`` with ``low <= 0 <= high`` (``(0, 0)`` without pitched notes).

        Raises:
            ConfigError: ``max_shift`` is negative.
        """
        if max_shift is not None and max_shift < 0:
            raise ConfigError(f"the largest transposition must be at least 0 semitones, not {max_shift}")
        ids = as_sequence(ids)
        pitches = self.token_value[ids[self._pitched(ids)]]
        if len(pitches) == 0:
            return 0, 0
        lo, hi = self.config.pitch_range
        low, high = lo - int(pitches.min()), hi - int(pitches.max())
        if max_shift is None:
            return low, high
        return max(low, -max_shift), min(high, max_shift)

    def transpose_ids(self, ids: np.ndarray | list[int], semitones: int) -> np.ndarray:
        """The sequence with every pitched note moved by ``semitones`` (drums stay); raises if a pitch
        would leave ``pitch_range``. Order within a position is kept, so valid sequences stay valid."""
        ids = as_sequence(ids).copy()
        low, high = self.transpose_range(ids)
        if not low <= semitones <= high:
            raise TokenizerError(
                f"transposing by {semitones} leaves the pitch range {self.config.pitch_range}"
            )
        ids[self._pitched(ids)] += semitones
        return ids

    # -- grammar ----------------------------------------------------------------------------------
    def grammar(self) -> Grammar:
        """The grammar of valid token sequences (built once per tokenizer)."""
        return self._grammar

    @cached_property
    def _grammar(self) -> Grammar:
        return Grammar(self)

    def is_valid(self, ids: np.ndarray | list[int]) -> bool:
        """Whether a complete sequence (BOS .. EOS, optionally followed by PADs) follows the grammar."""
        return bool(self._grammar.validate([ids])[0])


@dataclass
class _Layout:
    """Notes (in token order, ``program`` holding program keys with drums as 128) and bars (start step,
    meter token index, tempo bin) as plain int64 arrays: what encode writes and decode reads."""

    onset: np.ndarray
    duration: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    program: np.ndarray
    starts: np.ndarray
    meters: np.ndarray
    tempos: np.ndarray

    @classmethod
    def empty(cls) -> _Layout:
        return cls(*(np.zeros(0, np.int64) for _ in range(8)))
