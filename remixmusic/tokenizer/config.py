"""The REMI tokenizer's configuration: resolutions, ranges and token types, validated and saved with every artifact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from remixmusic.errors import TokenizerError
from remixmusic.music.notes import (
    STEPS_PER_BEAT,
    bar_length,
)

WHOLE_NOTE = 4 * STEPS_PER_BEAT
"""Steps in a whole note: a meter ``n/d`` spans ``n * WHOLE_NOTE / d`` steps."""


DEFAULT_BAR = bar_length(4, 4)
"""Bar length used when meter tokens are off (every bar is 4/4, as in MidiTok without time signatures)."""


DRUM_PROGRAM = 128
"""Program key of drum tracks in ``Program`` tokens (MIDI programs are 0..127)."""


# Token types. The numbering is internal; the vocabulary order below is what a model sees.
PAD, BOS, EOS, BAR, TIMESIG, TEMPO, POSITION, PROGRAM, PITCH, VELOCITY, DURATION = range(11)


@dataclass(frozen=True)
class TokenizerConfig:
    """Everything that determines the vocabulary; saved with every model so its tokens stay readable.

    Times are in steps of the note grid (``notes.STEPS_PER_BEAT`` = 12 per quarter note).
    """

    steps_per_beat: int = STEPS_PER_BEAT
    """Token time resolution per quarter note; must divide the grid's 12 (12 keeps the grid lossless)."""
    pitch_range: tuple[int, int] = (21, 108)
    """Lowest and highest pitch with a token (inclusive); notes outside are dropped by canonicalize."""
    max_duration: int = 8 * STEPS_PER_BEAT
    """Longest duration token in grid steps; every multiple of the resolution up to it has a token."""
    max_bar_length: int = 8 * STEPS_PER_BEAT
    """Longest bar (in grid steps) a meter token can describe; sets the number of Position tokens."""
    velocity_bins: int = 0
    """Number of Velocity tokens (equal-width bins over 1..127); 0 writes no velocities."""
    default_velocity: int = 80
    """Velocity of decoded notes when ``velocity_bins`` is 0."""
    use_programs: bool = False
    """REMI+: a Program token before each note, for multi-track music (drums get their own program)."""
    use_time_signatures: bool = True
    """TimeSig tokens after Bar; without them every bar is 4/4."""
    time_signature_denominators: tuple[int, ...] = (2, 4, 8, 16)
    """Meter denominators with tokens (numerators run up to what ``max_bar_length`` allows)."""
    tempo_bins: int = 0
    """Number of Tempo tokens (log-spaced over ``tempo_range``); 0 writes no tempo."""
    tempo_range: tuple[float, float] = (40.0, 240.0)

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        def fail(reason: str) -> None:
            raise TokenizerError(f"invalid tokenizer config: {reason}")

        if self.steps_per_beat < 1 or STEPS_PER_BEAT % self.steps_per_beat:
            fail(
                f"steps_per_beat={self.steps_per_beat} must divide the grid's {STEPS_PER_BEAT} steps per beat"
            )
        res = STEPS_PER_BEAT // self.steps_per_beat
        lo, hi = self.pitch_range
        if not 0 <= lo <= hi <= 127:
            fail(f"pitch_range={self.pitch_range} must satisfy 0 <= low <= high <= 127")
        if self.max_duration < res or self.max_duration % res:
            fail(f"max_duration={self.max_duration} must be a positive multiple of {res} grid steps")
        if self.max_bar_length < DEFAULT_BAR or self.max_bar_length % STEPS_PER_BEAT:
            fail(
                f"max_bar_length={self.max_bar_length} must be a whole number of beats, at least one 4/4 bar"
            )
        if self.max_bar_length % res:
            fail(f"max_bar_length={self.max_bar_length} must be a multiple of {res} grid steps")
        if not 0 <= self.velocity_bins <= 127:
            fail(f"velocity_bins={self.velocity_bins} must be in 0..127")
        if not 1 <= self.default_velocity <= 127:
            fail(f"default_velocity={self.default_velocity} must be in 1..127")
        dens = self.time_signature_denominators
        if (
            not dens
            or any(d < 1 or d & (d - 1) or WHOLE_NOTE % d for d in dens)
            or len(set(dens)) != len(dens)
        ):
            fail(f"time_signature_denominators={dens} must be distinct powers of two dividing {WHOLE_NOTE}")
        if not 4 in dens:  # noqa: E713 - reads as the rule it states
            fail("time_signature_denominators must include 4 (the default meter is 4/4)")
        if self.tempo_bins < 0:
            fail(f"tempo_bins={self.tempo_bins} must be >= 0")
        if not 0 < self.tempo_range[0] <= self.tempo_range[1]:
            fail(f"tempo_range={self.tempo_range} must be positive and increasing")

    @property
    def resolution(self) -> int:
        """Grid steps per token time unit."""
        return STEPS_PER_BEAT // self.steps_per_beat

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenizerConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error, missing ones take their defaults."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TokenizerError(f"invalid tokenizer config: unknown keys {unknown}")
        kwargs: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**kwargs)


def as_sequence(ids: np.ndarray | list[int]) -> np.ndarray:
    """One token sequence as a 1-D int64 array (a batch passed by mistake is an error, not flattened)."""
    array = np.asarray(ids, dtype=np.int64)
    if array.ndim != 1:
        raise TokenizerError(f"expected one token sequence (1-D), got an array of shape {array.shape}")
    return array
