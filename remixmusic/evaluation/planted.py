"""Planted-copy test sets: query pieces with known copied passages, for measuring attribution.

An attribution method is judged on material whose answer is known. Following the planted-motif
evaluations of pattern discovery (Collins et al., "Discovery of repeated themes and sections", MIREX
2013-2017; the JKU Patterns Development Database) and of plagiarism detection in music (Müllensiefen &
Pendzich 2009; Malandrino et al. 2022), a query is built by splicing fragments cut from reference pieces
between filler, and the analyser must report each fragment with its true source and its exact
boundaries. Everything here is made to be as hard as real use:

* fragments start and end at random note offsets, not at phrase or bar boundaries;
* filler joins them with no rest: the note after a fragment starts when its last note ends, and the
  filler's intervals and durations are drawn from real reference pieces (shuffled), so a chance
  continuation of the source is as likely as it is in music;
* fragments are transposed (-5..+6 semitones) and time-scaled (x0.5, x1, x2) at random; 16ths at x0.5
  lie half a step off the grid, kept in the notes' ``half`` as a MIDI file read back has it;
* varied copies carry 1 to ``max_edits`` edits: a changed pitch, a deleted note, an inserted passing note
  (between two notes a third or more apart) or an ornament (a note split into a turn of shorter notes);
* a multi-track query may hide the copied line in an inner voice, under a higher filler voice;
* null queries (random walks; reference pieces with intervals and durations shuffled) contain no copy;
  style-matched null queries are Markov-chain surrogates of the reference melodies, in their meters and
  lengths, with no long run of any reference melody (:mod:`remixmusic.evaluation.surrogates`): they
  have the corpus's formulas, so they measure the false copies that chance and style give;
* patchworks are made of whole-bar chunks (1, 2, 4 bars) of reference pieces, joined by transposing each
  chunk near the previous one's last pitch: pure recombination at a known granularity.

Every query carries its ground truth in a :class:`PlantedPiece`. Notes are indices into the query's
``piece.notes`` (its canonical order); source notes are indices into the source piece's ``notes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from remixmusic.evaluation.surrogates import MarkovMelodies
from remixmusic.music.lines import melody_indices
from remixmusic.music.notes import (
    NOTE_DTYPE,
    STEPS_PER_BEAT,
    TIME_SIGNATURE_DTYPE,
    MeterDraw,
    Piece,
    Track,
    half_onsets,
)

EDIT_KINDS = ("substitution", "deletion", "passing", "ornament")
"""Kinds of edit a varied fragment may carry."""

SCALES = (0.5, 1.0, 2.0)
"""Time scales applied to fragments (durations and inter-onset intervals multiplied)."""


@dataclass
class PlantedFragment:
    """One copied passage in a query: query notes ``[start, end)`` (indices into ``piece.notes``) copy
    source notes ``source_notes`` of reference piece ``source`` (its name, as an index names it),
    transposed by ``transposition`` semitones and time-scaled by ``scale``, with ``edits`` edits of the
    kinds listed in ``edit_kinds``; ``track``: the query track holding it."""

    source: str
    source_notes: np.ndarray
    start: int
    end: int
    transposition: int
    scale: float
    edits: int = 0
    edit_kinds: list[str] = field(default_factory=list)
    track: int = 0

    @property
    def n_notes(self) -> int:
        return self.end - self.start


@dataclass
class PlantedPiece:
    """A query piece and what was planted in it (``kind``: ``planted``, ``varied``, ``inner-voice``,
    ``random``, ``shuffled``, ``style`` or ``patchwork``; ``chunk_bars``: a patchwork's chunk size in bars)."""

    piece: Piece
    kind: str
    fragments: list[PlantedFragment] = field(default_factory=list)
    chunk_bars: int = 0

    @property
    def copied_mask(self) -> np.ndarray:
        """Per query note: inside a planted fragment (``len(piece.notes)`` booleans)."""
        mask = np.zeros(len(self.piece.notes), bool)
        for f in self.fragments:
            order = _line_order(self.piece, f.track)
            mask[order[f.start : f.end]] = True
        return mask


def _line_order(piece: Piece, track: int) -> np.ndarray:
    """Indices into ``piece.notes`` of the notes of ``track``, in onset order (a fragment's ``start`` and
    ``end`` count along this line)."""
    return np.flatnonzero(piece.notes["track"] == track)


def _melody(piece: Piece) -> np.ndarray:
    """A reference piece's melody notes (indices into ``piece.notes``, onset order)."""
    pitched = np.flatnonzero(~piece.notes["is_drum"])
    return pitched[melody_indices(piece.notes[pitched])]


class PlantedSetMaker:
    """Builds planted-copy query sets from reference pieces (parameters here, then the ``make_*`` methods).

    ``pieces``: the reference (e.g. a dataset's train split); fragments are cut from their melodies.
    ``min_notes``/``max_notes``: fragment length range in notes; ``n_fragments``: fragments per query;
    ``filler``: filler notes before, between and after fragments (a range); ``seed``: everything is
    reproducible from it.

    Raises:
        ValueError: fewer than ``n_fragments`` reference pieces long enough for the longest fragment.
    """

    def __init__(
        self,
        pieces: Sequence[Piece],
        min_notes: int = 6,
        max_notes: int = 24,
        n_fragments: int = 3,
        filler: tuple[int, int] = (4, 12),
        seed: int = 0,
    ) -> None:
        self.pieces = list(pieces)
        self.names = [_name(p, i) for i, p in enumerate(self.pieces)]
        self.melodies = [_melody(p) for p in self.pieces]
        self.min_notes, self.max_notes = min_notes, max_notes
        self.n_fragments = n_fragments
        self.filler = filler
        self.rng = np.random.default_rng(seed)
        self._chains: dict[tuple[int, int | None], MarkovMelodies] = {}
        self._long = [i for i, m in enumerate(self.melodies) if len(m) >= max_notes + 2]
        if len(self._long) < n_fragments:
            raise ValueError(f"need {n_fragments} reference pieces of {max_notes + 2}+ melody notes")

    # -- building blocks -----------------------------------------------------------------------------
    def _filler(self, n: int, pitch: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` filler (pitch, duration) pairs continuing from ``pitch``: the intervals and durations of a
        random reference melody, each shuffled."""
        i = self._long[self.rng.integers(len(self._long))]
        mel = self.pieces[i].notes[self.melodies[i]]
        steps = np.diff(mel["pitch"].astype(np.int64))
        steps = steps if len(steps) else np.array([2, -2])
        durs = np.diff(mel["onset"].astype(np.int64))
        durs = durs[durs > 0] if np.any(durs > 0) else np.array([STEPS_PER_BEAT])
        intervals = self.rng.choice(steps, n)
        pitches = np.clip(pitch + np.cumsum(intervals), 40, 90)
        return pitches, self.rng.choice(durs, n)

    def _fragment(self, n: int) -> tuple[int, np.ndarray]:
        """A random source piece and ``n`` consecutive melody notes of it (indices into its notes)."""
        i = self._long[self.rng.integers(len(self._long))]
        mel = self.melodies[i]
        start = int(self.rng.integers(0, len(mel) - n + 1))
        return i, mel[start : start + n]

    def _scaled(self, notes: np.ndarray, scale: float) -> np.ndarray | None:
        """Inter-onset intervals (the last one: its duration) of ``notes`` scaled, in half steps
        (:func:`~remixmusic.music.notes.half_onsets`: 16ths at x0.5 fall on them, as in a MIDI file), or
        None when a scaled value is not a whole number of half steps (then the fragment is left unscaled
        by the caller)."""
        ioi = np.append(np.diff(half_onsets(notes)), 2 * int(notes["duration"][-1])) * scale
        if np.any(ioi != np.round(ioi)) or np.any(ioi < 1):
            return None
        return ioi.astype(np.int64)

    def _edit(
        self, pitch: np.ndarray, ioi: np.ndarray, n_edits: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """Apply ``n_edits`` edits to a fragment's pitches and inter-onset intervals, away from its first
        and last two notes. Returns new pitches, IOIs, the source-note index of each new note (-1 for an
        inserted note) and the edit kinds."""
        origin = np.arange(len(pitch))
        kinds: list[str] = []  # ioi in half steps: new notes on whole steps, as before half steps
        for _ in range(n_edits):
            for _attempt in range(20):
                kind = EDIT_KINDS[self.rng.integers(len(EDIT_KINDS))]
                k = int(self.rng.integers(2, len(pitch) - 2))
                if kind == "substitution":
                    pitch = pitch.copy()
                    pitch[k] += int(self.rng.choice([-3, -2, -1, 1, 2, 3]))
                elif kind == "deletion":
                    ioi = ioi.copy()
                    ioi[k - 1] += ioi[k]
                    pitch, ioi, origin = np.delete(pitch, k), np.delete(ioi, k), np.delete(origin, k)
                elif kind == "passing":
                    gap = int(pitch[k + 1] - pitch[k])
                    if abs(gap) < 3 or ioi[k] < 4 or ioi[k] % 4:
                        continue
                    half = ioi[k] // 2
                    pitch = np.insert(pitch, k + 1, pitch[k] + gap // 2)
                    ioi = np.insert(ioi, k + 1, ioi[k] - half)
                    ioi[k] = half
                    origin = np.insert(origin, k + 1, -1)
                else:  # ornament: a lower or upper neighbour turn in the note's time
                    if ioi[k] < 6 or ioi[k] % 6:
                        continue
                    third = ioi[k] // 3
                    turn = pitch[k] + int(self.rng.choice([-1, 1])) * int(self.rng.choice([1, 2]))
                    pitch = np.insert(pitch, k + 1, [turn, pitch[k]])
                    ioi = np.insert(ioi, k + 1, [third, ioi[k] - 2 * third])
                    ioi[k] = third
                    origin = np.insert(origin, k + 1, [-1, -1])
                kinds.append(kind)
                break
        return pitch, ioi, origin, kinds

    # -- query sets -----------------------------------------------------------------------------------
    def make_planted(self, n: int, max_edits: int = 0, edit_share: float = 0.0) -> list[PlantedPiece]:
        """``n`` single-track queries of ``n_fragments`` fragments each; with ``max_edits > 0``, a share
        ``edit_share`` of the queries get 1..``max_edits`` edits in every fragment (kind ``varied``)."""
        out = []
        for _ in range(n):
            varied = max_edits > 0 and self.rng.random() < edit_share
            out.append(self._planted_piece(max_edits if varied else 0, "varied" if varied else "planted"))
        return out

    def _planted_piece(self, max_edits: int, kind: str, track: int = 0) -> PlantedPiece:
        pitches: list[int] = []
        iois: list[int] = []
        fragments: list[PlantedFragment] = []
        fp, fd = self._filler(int(self.rng.integers(*self.filler)), 64)
        pitches += fp.tolist()
        iois += (2 * fd).tolist()  # half steps (_scaled)
        for _ in range(self.n_fragments):
            length = int(self.rng.integers(self.min_notes, self.max_notes + 1))
            src, notes = self._fragment(length + (2 if max_edits else 0))
            src_notes = self.pieces[src].notes[notes]
            scale = float(self.rng.choice(SCALES))
            scaled = self._scaled(src_notes, scale)
            if scaled is None:
                scale, scaled = 1.0, self._scaled(src_notes, 1.0)
            assert scaled is not None
            ioi = scaled
            shift = int(self.rng.integers(-5, 7))
            pitch = src_notes["pitch"].astype(np.int64) + shift
            origin = np.arange(len(pitch))
            kinds: list[str] = []
            if max_edits:
                pitch, ioi, origin, kinds = self._edit(pitch, ioi, int(self.rng.integers(1, max_edits + 1)))
            pad = _pad(sum(iois), ioi)
            if pad is None:  # two notes a step apart off the steps round to one step: as the source has it
                unscaled = self._scaled(src_notes, 1.0)
                assert unscaled is not None
                scale, ioi, origin, kinds = 1.0, unscaled, np.arange(len(src_notes)), []
                pitch = src_notes["pitch"].astype(np.int64) + shift
                pad = (int(half_onsets(src_notes[:1])[0]) - sum(iois)) % 4
            iois[-1] += pad
            start = len(pitches)
            if (sum(iois) + int(ioi.sum())) % 2:  # the filler after it back on whole steps
                ioi[-1] += 1
            pitches += pitch.tolist()
            iois += ioi.tolist()
            fragments.append(
                PlantedFragment(
                    source=self.names[src],
                    source_notes=notes[origin[origin >= 0]],
                    start=start,
                    end=len(pitches),
                    transposition=shift,
                    scale=scale,
                    edits=len(kinds),
                    edit_kinds=kinds,
                    track=track,
                )
            )
            fp, fd = self._filler(int(self.rng.integers(*self.filler)), int(pitch[-1]))
            pitches += fp.tolist()
            iois += (2 * fd).tolist()
        piece = _monophonic(np.asarray(pitches), np.asarray(iois), track, halves=True)
        return PlantedPiece(piece, kind, fragments)

    def make_inner_voice(self, n: int) -> list[PlantedPiece]:
        """``n`` three-track queries: the planted line (track 1) sounds between a higher filler voice
        (track 0, an octave up) and a lower one (track 2), so the melody (top line) holds no copy."""
        out = []
        for _ in range(n):
            inner = self._planted_piece(0, "inner-voice", track=1)
            notes = inner.piece.notes
            end = int((notes["onset"] + notes["duration"]).max())
            voices = [notes]
            for track, offset in ((0, 12), (2, -12)):
                k = max(4, end // (2 * STEPS_PER_BEAT))
                p, d = self._filler(k, int(np.median(notes["pitch"])) + offset)
                voice = _monophonic(np.clip(p, 20, 108), d, track).notes
                voices.append(voice[voice["onset"] < end])
            piece = Piece(
                np.concatenate(voices),
                tracks=[Track("upper"), Track("inner"), Track("lower")],
                time_signatures=np.array([(0, 4, 4)], TIME_SIGNATURE_DTYPE),
            )
            out.append(PlantedPiece(piece, "inner-voice", inner.fragments))
        return out

    def make_null(self, n: int) -> list[PlantedPiece]:
        """``n`` queries with nothing copied: alternately a random walk (filler only) and a reference
        melody whose intervals and durations are each shuffled."""
        out = []
        for k in range(n):
            if k % 2 == 0:
                p, d = self._filler(int(self.rng.integers(40, 80)), 64)
                out.append(PlantedPiece(_monophonic(p, d), "random"))
            else:
                src = self.pieces[self._long[self.rng.integers(len(self._long))]]
                mel = src.notes[_melody(src)]
                steps = self.rng.permutation(np.diff(mel["pitch"].astype(np.int64)))
                pitch = int(mel["pitch"][0]) + np.concatenate([[0], np.cumsum(steps)])
                ioi = np.append(np.diff(mel["onset"].astype(np.int64)), int(mel["duration"][-1]))
                ioi = self.rng.permutation(np.maximum(ioi, 1))
                out.append(PlantedPiece(_monophonic(pitch, ioi), "shuffled"))
        return out

    def make_style_null(self, n: int, order: int = 2, max_shared: int | None = None) -> list[PlantedPiece]:
        """``n`` style-matched null queries (kind ``style``): surrogates sampled from an order-``order``
        Markov chain over the reference melodies' (interval, inter-onset interval) events with their
        metric positions, each on a reference melody's length, meter, first pitch and range, and never
        sharing a run of more than ``max_shared`` relative events (intervals and inter-onset ratios) with
        one reference melody (see :class:`~remixmusic.evaluation.surrogates.MarkovMelodies`; ``None``: no
        such bound, so a surrogate may reproduce reference passages longer than its order)."""
        key = (order, max_shared)
        if key not in self._chains:
            self._chains[key] = MarkovMelodies(self.pieces, self.melodies, order=order, max_shared=max_shared)
        chain = self._chains[key]
        return [PlantedPiece(chain.sample(self.rng), "style") for _ in range(n)]

    def continuations(self, pp: PlantedPiece) -> np.ndarray:
        """Per query note of ``pp`` (``len(pp.piece.notes)`` booleans): outside every fragment, yet the
        exact continuation of a neighbouring fragment's source. Filler is drawn at random, so the note
        right after (or before) a fragment sometimes has, by chance, the pitch (under the fragment's
        transposition) and the inter-onset interval (under its time scale) of the source's next (or
        previous) melody note; such a run makes the copy in the query longer than planted, and no
        analyser can tell it from the planted part. Scoring reports precision with and without these
        notes (:func:`score_attribution`'s ``continued``)."""
        notes = pp.piece.notes
        out = np.zeros(len(notes), bool)
        inside = pp.copied_mask
        by_name = {name: i for i, name in enumerate(self.names)}
        for f in pp.fragments:
            i = by_name.get(f.source)
            if i is None or len(f.source_notes) == 0:
                continue
            src, mel = self.pieces[i].notes, self.melodies[i]
            at = np.flatnonzero(np.isin(mel, f.source_notes))
            order = _line_order(pp.piece, f.track)
            q_on, q_pitch = half_onsets(notes[order]), notes["pitch"][order].astype(np.int64)
            s_on, s_pitch = half_onsets(src[mel]), src["pitch"][mel].astype(np.int64)
            for step, k, j in ((1, f.end, int(at.max()) + 1), (-1, f.start - 1, int(at.min()) - 1)):
                while 0 <= k < len(order) and 0 <= j < len(mel) and not inside[order[k]]:
                    q_gap = q_on[k] - q_on[k - step] if step == 1 else q_on[k + 1] - q_on[k]
                    s_gap = s_on[j] - s_on[j - step] if step == 1 else s_on[j + 1] - s_on[j]
                    if q_pitch[k] - s_pitch[j] != f.transposition or q_gap != round(s_gap * f.scale):
                        break
                    out[order[k]] = True
                    k, j = k + step, j + step
        return out

    def make_patchworks(self, n: int, chunk_bars: int, n_bars: int = 16) -> list[PlantedPiece]:
        """``n`` queries of ``n_bars`` bars made of ``chunk_bars``-bar chunks of reference melodies in one
        meter (the first chunk's), each transposed to start within a fifth of the previous chunk's
        last pitch. Every chunk is a fragment of the ground truth."""
        meters = MeterDraw(self.pieces, self._long)
        out = []
        for _ in range(n):
            meter = meters.draw(self.rng)
            bar = meter[0] * STEPS_PER_BEAT * 4 // meter[1]
            notes: list[np.ndarray] = []
            fragments: list[PlantedFragment] = []
            last = 64
            for c in range(n_bars // chunk_bars):
                for _attempt in range(50):
                    i = meters.piece(meter, self.rng)
                    piece = self.pieces[i]
                    mel = self.melodies[i]
                    bars = piece.bar_of(piece.notes["onset"][mel])
                    first = int(self.rng.integers(0, max(1, int(bars.max()) - chunk_bars + 1)))
                    sel = mel[(bars >= first) & (bars < first + chunk_bars)]
                    if len(sel) >= 2:
                        break
                chunk = piece.notes[sel].copy()
                shift = int(np.clip(last - int(chunk["pitch"][0]), -7, 7)) if c else 0
                shift += int(self.rng.integers(-2, 3)) if c else 0
                chunk["pitch"] = np.clip(chunk["pitch"] + shift, 0, 127)
                start_step = first * bar if len(piece.meter_map()) == 1 else 0
                chunk["onset"] = chunk["onset"] - start_step + c * chunk_bars * bar
                chunk["track"], chunk["program"] = 0, 0
                start = sum(len(x) for x in notes)
                notes.append(chunk)
                fragments.append(
                    PlantedFragment(self.names[i], sel, start, start + len(chunk), shift, 1.0)
                )
                last = int(chunk["pitch"][-1])
            piece = Piece(
                np.concatenate(notes), time_signatures=np.array([(0, *meter)], TIME_SIGNATURE_DTYPE)
            )
            out.append(PlantedPiece(piece, "patchwork", fragments, chunk_bars))
        return out


def _pad(at: int, ioi: np.ndarray) -> int | None:
    """Half steps (0-3) to wait before a fragment placed at half step ``at`` with inter-onset intervals
    ``ioi`` (half steps) so that its notes round to distinct steps (half to even: notes at 1.5 and 2.5
    steps would both be at step 2), or None."""
    for pad in range(4):
        steps = np.rint((at + pad + np.concatenate([[0], np.cumsum(ioi)])) / 2)
        if np.all(np.diff(steps) > 0):
            return pad
    return None


def _monophonic(pitch: np.ndarray, ioi: np.ndarray, track: int = 0, halves: bool = False) -> Piece:
    """A one-line piece: note k starts at the sum of the previous IOIs (steps, or with ``halves`` half
    steps, kept in the notes' ``half``) and lasts its own IOI."""
    notes = np.zeros(len(pitch), NOTE_DTYPE)
    ioi = np.maximum(np.asarray(ioi, np.int64), 1)
    at = np.concatenate([[0], np.cumsum(ioi)])
    if halves:  # positions rounded half to even, as the MIDI reader does (io.grid.to_steps)
        steps = np.rint(at / 2).astype(np.int64)
        notes["half"] = at[:-1] - 2 * steps[:-1]
        at, ioi = steps, np.maximum(np.diff(steps), 1)
    notes["onset"] = at[:-1]
    notes["duration"] = ioi
    notes["pitch"] = np.clip(pitch, 0, 127)
    notes["velocity"] = 80
    notes["track"] = track
    return Piece(
        notes,
        tracks=[Track() for _ in range(track + 1)],
        time_signatures=np.array([(0, 4, 4)], TIME_SIGNATURE_DTYPE),
    )


def _name(piece: Piece, i: int) -> str:
    """The name an index gives a reference piece: its file name, else its title, else ``piece<i>``."""
    return Path(piece.source).name if piece.source else str(piece.metadata.get("title") or f"piece{i}")


# -- scoring -------------------------------------------------------------------------------------------
@dataclass
class FoundPassage:
    """What an analyser reported, as scoring needs it: query note indices (into ``piece.notes``), the
    label (``copied`` or ``varied`` count as recombined) and the source names, best first."""

    notes: np.ndarray
    label: str
    sources: list[str]


@dataclass
class AttributionScore:
    """Planted-copy scores of one query set.

    ``recall``: share of fragments found, i.e. one reported passage labelled copied or varied that has
    the fragment's true source among its sources and covers at least ``min_cover`` of the fragment's
    notes; ``source_accuracy``: among fragments covered at least ``min_cover`` by recombined passages,
    the share whose covering passage names the true source first; ``boundary_error``: per found
    fragment, notes between its true and reported start plus between its true and reported end (the
    median is the headline); ``note_precision``: share of notes labelled copied or varied that lie in a
    planted fragment; ``note_precision_continued``: the same, counting as right the filler notes that
    continue a fragment's source exactly (:meth:`PlantedSetMaker.continuations`; NaN when not given);
    ``copied_coverage``: share of all query notes labelled copied or varied (the measure for null sets,
    which have no fragment).
    """

    n_pieces: int
    n_fragments: int
    recall: float
    source_accuracy: float
    note_precision: float
    copied_coverage: float
    boundary_error: np.ndarray
    missed: list[tuple[int, PlantedFragment]]
    note_precision_continued: float = float("nan")

    @property
    def median_boundary_error(self) -> float:
        return float(np.median(self.boundary_error)) if len(self.boundary_error) else float("nan")


RECOMBINED = ("copied", "varied")


def score_attribution(
    planted: Sequence[PlantedPiece],
    found: Sequence[Sequence[FoundPassage]],
    min_cover: float = 0.8,
    only: Sequence[Sequence[bool]] | None = None,
    continued: Sequence[np.ndarray] | None = None,
) -> AttributionScore:
    """Score reported passages against planted ground truth (see :class:`AttributionScore`).

    ``found[i]``: the passages reported for ``planted[i].piece``. ``only[i][k]``: score fragment ``k`` of
    query ``i`` for recall (e.g. only fragments whose pattern occurs in one reference piece); precision
    and coverage always count every note. ``continued[i]``: per note of query ``i``, whether it continues
    a fragment's source exactly (:meth:`PlantedSetMaker.continuations`), for
    ``note_precision_continued``.
    """
    n_frag = hits = src_ok = src_n = 0
    errors: list[int] = []
    missed: list[tuple[int, PlantedFragment]] = []
    in_frag = labelled = labelled_in = labelled_continued = total = 0
    for i, (pp, passages) in enumerate(zip(planted, found, strict=True)):
        rec = [p for p in passages if p.label in RECOMBINED]
        mask = np.zeros(len(pp.piece.notes), bool)
        for p in rec:
            mask[p.notes] = True
        truth = pp.copied_mask
        labelled += int(mask.sum())
        labelled_in += int((mask & truth).sum())
        if continued is not None:
            labelled_continued += int((mask & (truth | continued[i])).sum())
        in_frag += int(truth.sum())
        total += len(mask)
        for k, f in enumerate(pp.fragments):
            if only is not None and not only[i][k]:
                continue
            n_frag += 1
            order = _line_order(pp.piece, f.track)
            want = order[f.start : f.end]
            best, best_cover = None, 0.0
            for p in rec:
                if f.source not in p.sources:
                    continue
                cover = np.isin(want, p.notes).mean()
                if cover > best_cover:
                    best, best_cover = p, cover
            if best is not None and best_cover >= min_cover:
                hits += 1
                pos = np.flatnonzero(np.isin(order, best.notes))
                errors.append(abs(int(pos.min()) - f.start) + abs(int(pos.max()) + 1 - f.end))
            else:
                missed.append((i, f))
            covering = [p for p in rec if np.isin(want, p.notes).mean() >= min_cover]
            if covering:
                src_n += 1
                top = max(covering, key=lambda p: np.isin(want, p.notes).mean())
                src_ok += int(bool(top.sources) and top.sources[0] == f.source)
    return AttributionScore(
        n_pieces=len(planted),
        n_fragments=n_frag,
        recall=hits / n_frag if n_frag else float("nan"),
        source_accuracy=src_ok / src_n if src_n else float("nan"),
        note_precision=labelled_in / labelled if labelled else float("nan"),
        copied_coverage=labelled / total if total else float("nan"),
        boundary_error=np.asarray(errors, np.int64),
        missed=missed,
        note_precision_continued=(
            labelled_continued / labelled if labelled and continued is not None else float("nan")
        ),
    )
