"""Style-matched null pieces: Markov-chain surrogates of a reference corpus's melodies.

A copy detector's false-positive rate must be measured on material that has the reference's local
statistics but copies nothing from it. Random walks and shuffled melodies are too easy a null: they lack
the corpus's formulas (its common 3- and 4-note figures, its rhythms in their metric places), which are
exactly what chance matches against a large corpus of one style are made of. Following the method of
surrogate data (Theiler et al. 1992: random sequences that keep chosen statistics of the real data and
destroy the rest), a style-matched null piece is a random walk on an order-``k`` Markov chain fitted on
the reference melodies, the n-gram models of melody of Conklin & Witten (1995) and of the Markov
pastiches used to test music-originality checks (Collins et al. 2016):

* an *event* is a note's (pitch interval from the previous note, inter-onset interval in steps); its
  context is the ``k`` previous events and its metric position (step within the bar, with the bar
  length), so rhythms fall where the corpus puts them; contexts never seen back off to shorter ones,
  then drop the metric position (variable order, as in PPM-style models);
* a piece copies a *template* reference melody's length in notes, meter, first pitch, first metric
  position and pitch range (pitches leaving the range by more than ``margin`` semitones are not drawn);
* the chain's order bounds what it imitates but not what it reproduces: at a rare context an order-``k``
  walk follows one reference piece note for note, so chunks longer than ``k`` are copied
  (Papadopoulos, Roy & Pachet 2014). With ``max_shared`` set, the walk never completes a run of more
  than ``max_shared`` consecutive *relative* events found in one reference melody (their MaxOrder
  constraint, enforced greedily here: forbidden continuations are removed before drawing, backing off
  to shorter contexts when none is left). A relative event is a note's (interval from the previous
  note, its inter-onset interval as a ratio of the previous one): what the analyser's default
  ``transposed+tempo`` symbols read, so the bound holds in any key and at any tempo. (The analyser
  snaps ratios to a few values, so its exact matches can still run a symbol or two longer; a benchmark
  should measure each surrogate's longest exact match with its index, as
  ``benchmarks/attribution.py`` does.)

The surrogates have what chance and style give and nothing more: a copy detector's copied coverage on
them is a false-positive rate under the hypothesis "new music in the same style".
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from remixmusic.music.notes import NOTE_DTYPE, TIME_SIGNATURE_DTYPE, Piece, Track, bar_length

START = -1
"""The event id that pads the context before a melody's first note."""


@dataclass(frozen=True)
class Template:
    """What a surrogate copies from one reference melody: its length in notes, meter (the first one),
    first pitch, the metric position of its first note (steps into its bar) and its pitch range."""

    n_notes: int
    numerator: int
    denominator: int
    first_pitch: int
    first_position: int
    low: int
    high: int

    @property
    def bar_steps(self) -> int:
        return bar_length(self.numerator, self.denominator)


class MarkovMelodies:
    """An order-``order`` Markov chain over melody events fitted on reference melodies (see the module
    docstring), and a sampler of surrogate pieces.

    ``pieces``: the reference pieces; ``melodies``: per piece, the indices of its melody notes in onset
    order (one note per onset). ``order``: events of context (>= 1). ``max_shared``: with a value, a
    sampled melody never contains a run of more than ``max_shared`` consecutive relative events (see the
    module docstring) of one reference melody (``None``: no such constraint). ``margin``: semitones a
    surrogate may leave its template's pitch range by.

    Raises:
        ValueError: ``order < 1``, ``max_shared <= order``, or no melody of two notes or more.
    """

    def __init__(
        self,
        pieces: Sequence[Piece],
        melodies: Sequence[np.ndarray],
        order: int = 2,
        max_shared: int | None = None,
        margin: int = 2,
    ) -> None:
        if order < 1:
            raise ValueError(f"order must be >= 1, not {order}")
        if max_shared is not None and max_shared <= order:
            raise ValueError(f"max_shared ({max_shared}) must exceed the order ({order})")
        self.order, self.max_shared, self.margin = order, max_shared, margin
        self.events: list[tuple[int, int]] = []  # event id -> (interval, inter-onset interval)
        ids: dict[tuple[int, int], int] = {}
        counts: dict[tuple, defaultdict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.forbidden: set[tuple[int, ...]] = set()  # runs of max_shared + 1 relative events
        self._relative_ids: dict[tuple[int, int, int], int] = {}
        self.templates: list[Template] = []
        for piece, mel in zip(pieces, melodies, strict=True):
            notes = piece.notes[np.asarray(mel, np.int64)]
            if len(notes) < 2:
                continue
            onset = notes["onset"].astype(np.int64)
            pitch = notes["pitch"].astype(np.int64)
            ioi = np.append(np.diff(onset), int(notes["duration"][-1]))
            starts = piece.bar_starts(int(onset[-1]) + 1)
            bar = np.clip(np.searchsorted(starts, onset, side="right") - 1, 0, None)
            position = onset - starts[bar]
            ends = np.append(starts[1:], starts[-1] + _last_bar(piece))
            bar_len = ends[bar] - starts[bar]
            interval = np.diff(pitch, prepend=pitch[0])
            ioi = np.maximum(ioi, 1)
            seq = [ids.setdefault((int(interval[k]), int(ioi[k])), len(ids)) for k in range(len(notes))]
            padded = [START] * order + seq
            for k, event in enumerate(seq):
                metric = (int(bar_len[k]), int(position[k]))
                for key in self._keys(padded[k : k + order], metric):
                    counts[key][event] += 1
            if max_shared is not None:
                rel = [self._relative(int(interval[k]), int(ioi[k]), int(ioi[k - 1])) for k in range(1, len(seq))]
                w = max_shared + 1
                self.forbidden.update(tuple(rel[k : k + w]) for k in range(len(rel) - w + 1))
            meter = piece.meter_map()
            self.templates.append(
                Template(
                    len(notes), int(meter["numerator"][0]), int(meter["denominator"][0]),
                    int(pitch[0]), int(position[0]), int(pitch.min()), int(pitch.max()),
                )
            )
        if not self.templates:
            raise ValueError("no reference melody of two notes or more")
        self.events = sorted(ids, key=ids.__getitem__)
        self._interval = np.array([e[0] for e in self.events], np.int64)
        self._ioi = np.array([e[1] for e in self.events], np.int64)
        self.tables = {
            key: (np.fromiter(c.keys(), np.int64, len(c)), np.fromiter(c.values(), np.float64, len(c)))
            for key, c in counts.items()
        }

    def _relative(self, interval: int, ioi: int, previous_ioi: int, add: bool = True) -> int:
        """The id of a relative event: (interval, ``ioi : previous_ioi`` in lowest terms); -1 for one no
        reference melody has when ``add`` is false."""
        g = math.gcd(ioi, previous_ioi) or 1
        key = (interval, ioi // g, previous_ioi // g)
        if not add:
            return self._relative_ids.get(key, -1)
        return self._relative_ids.setdefault(key, len(self._relative_ids))

    def _keys(self, context: Sequence[int], metric: tuple[int, int]) -> list[tuple]:
        """Context keys from the longest to the shortest: the last ``j`` events with the metric
        position for ``j = order .. 0``, then the same without it."""
        ctx = tuple(context)
        with_pos = [("m", metric, ctx[len(ctx) - j :]) for j in range(self.order, -1, -1)]
        without = [("e", ctx[len(ctx) - j :]) for j in range(self.order, -1, -1)]
        return with_pos + without

    def sample_events(self, rng: np.random.Generator, template: Template) -> np.ndarray:
        """Event ids of one surrogate melody of ``template``'s length, meter, first pitch, first
        metric position and pitch range (widened by ``margin``)."""
        low, high = template.low - self.margin, template.high + self.margin
        bar = template.bar_steps
        context = [START] * self.order
        out: list[int] = []
        pitch, position = template.first_pitch, template.first_position % bar
        tail = self.max_shared
        relative: list[int] = []  # relative event ids of notes 1.. so far
        every = (np.arange(len(self.events)), np.ones(len(self.events)))
        for k in range(template.n_notes):
            chosen = -1
            keys = self._keys(context[-self.order :], (bar, position))
            # Longest known context first; last, any event of the vocabulary (uniformly).
            for ev, weight in [t for t in map(self.tables.get, keys) if t is not None] + [every]:
                new_pitch = pitch + self._interval[ev] if k else np.full(len(ev), pitch)
                ok = (new_pitch >= low) & (new_pitch <= high)
                if tail is not None and k and len(relative) >= tail:
                    last = tuple(relative[len(relative) - tail :])
                    prev = int(self._ioi[out[-1]])
                    ok &= np.array([
                        (*last, self._relative(int(self._interval[e]), int(self._ioi[e]), prev, add=False))
                        not in self.forbidden
                        for e in ev
                    ])
                if ok.any():
                    p = weight * ok
                    chosen = int(ev[rng.choice(len(ev), p=p / p.sum())])
                    break
            if chosen < 0:
                raise RuntimeError("no allowed continuation (the pitch range admits no event)")
            if k:
                pitch += int(self._interval[chosen])
                prev = int(self._ioi[out[-1]])
                relative.append(self._relative(int(self._interval[chosen]), int(self._ioi[chosen]), prev, add=False))
            out.append(chosen)
            context.append(chosen)
            position = (position + int(self._ioi[chosen])) % bar
        return np.asarray(out, np.int64)

    def sample(self, rng: np.random.Generator, template: Template | None = None) -> Piece:
        """One surrogate piece (one track), on ``template`` or on a reference melody's template drawn at
        random. Its first note starts at the template's first metric position, so bars line up."""
        if template is None:
            template = self.templates[int(rng.integers(len(self.templates)))]
        events = self.sample_events(rng, template)
        interval = self._interval[events].copy()
        interval[0] = 0
        pitch = template.first_pitch + np.cumsum(interval)
        ioi = self._ioi[events]
        notes = np.zeros(len(events), NOTE_DTYPE)
        notes["onset"] = template.first_position % template.bar_steps + np.concatenate([[0], np.cumsum(ioi)[:-1]])
        notes["duration"] = ioi
        notes["pitch"] = np.clip(pitch, 0, 127)
        notes["velocity"] = 80
        meter = np.array([(0, template.numerator, template.denominator)], TIME_SIGNATURE_DTYPE)
        return Piece(notes, tracks=[Track()], time_signatures=meter)


def _last_bar(piece: Piece) -> int:
    """Length in steps of a bar in the piece's last meter."""
    meter = piece.meter_map()
    return bar_length(int(meter["numerator"][-1]), int(meter["denominator"][-1]))
