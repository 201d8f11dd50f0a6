"""One config object per stage of the novelty analysis: matching, segmentation, and the whole analysis.

Each is a frozen dataclass validated on construction (a bad value raises :class:`ConfigError` naming the
field), with :meth:`to_dict` (JSON-able) and a strict :meth:`from_dict` (an unknown key raises
:class:`ConfigError` naming it; a missing key takes its default). :class:`AnalysisConfig` is what
``report.json`` records under ``params["config"]``, so a saved report rebuilds its analysis:
``AnalysisConfig.from_dict(json.load(fh)["params"]["config"])``.

A ``None`` matching threshold means "derived from the reference index" (:meth:`MatchConfig.resolve`);
a config keeps the ``None``, so it can be reused against another reference.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

from remixmusic.errors import ConfigError
from remixmusic.music.beats import TIMINGS
from remixmusic.music.lines import LINE_MODES
from remixmusic.novelty.symbols import INVARIANCES

if TYPE_CHECKING:
    from remixmusic.novelty.index import Index

METHODS = ("lbdm", "fixed", "surprisal")
"""Motif segmentation methods (see :mod:`remixmusic.novelty.segment`)."""


def _integer(what: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ConfigError(f"{what} must be an integer >= {minimum}, not {value!r}")
    return int(value)


def _real(what: str, value: Any, low: float, high: float = math.inf, low_open: bool = False) -> float:
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if ok:
        v = float(value)
        ok = (v > low if low_open else v >= low) and v <= high
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]" if math.isfinite(high) else None
        bound = f"in {interval}" if interval else f"{'>' if low_open else '>='} {low:g}"
        raise ConfigError(f"{what} must be a finite number {bound}, not {value!r}")
    return float(value)


def _flag(what: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{what} must be true or false, not {value!r}")
    return value


def _choice(what: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")
    return str(value)


def _count(default: int | None, minimum: int = 1) -> Any:
    """A dataclass field holding an integer ``>= minimum`` (``None`` too when that is the default)."""
    return field(default=default, metadata={"check": ("int", minimum)})


def _number(
    default: float | None, low: float, high: float = math.inf, low_open: bool = False, none: bool = False
) -> Any:
    """A dataclass field holding a finite number in ``[low, high]`` (``(low, high]`` when ``low_open``);
    ``None`` too when that is the default or ``none`` is set."""
    return field(default=default, metadata={"check": ("real", low, high, low_open), "none": none})


def _bool(default: bool) -> Any:
    return field(default=default, metadata={"check": ("bool",)})


def _one_of(default: str | None, choices: tuple[str, ...], what: str) -> Any:
    """A dataclass field holding one of ``choices`` (``None`` too when that is the default)."""
    return field(default=default, metadata={"check": ("choice", choices, what)})


def _validate(config: Any, what: str) -> None:
    """Check (and normalize: numpy or JSON numbers to ``int``/``float``) every field declared with
    :func:`_count`, :func:`_number`, :func:`_bool` or :func:`_one_of`; raise :class:`ConfigError`."""
    for f in fields(config):
        check = f.metadata.get("check")
        value = getattr(config, f.name)
        if check is None or (value is None and (f.default is None or f.metadata.get("none"))):
            continue
        name = f"{what} {f.name}"
        if check[0] == "int":
            value = _integer(name, value, check[1])
        elif check[0] == "real":
            value = _real(name, value, check[1], check[2], check[3])
        elif check[0] == "bool":
            value = _flag(name, value)
        else:
            value = _choice(check[2], value, check[1])
        object.__setattr__(config, f.name, value)


def _known(cls: type, data: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``data`` as keyword arguments of dataclass ``cls``; unknown keys raise :class:`ConfigError`."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{what} config must be a mapping, not {type(data).__name__}")
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise ConfigError(f"unknown {what} config field(s): {', '.join(sorted(map(str, unknown)))}")
    return dict(data)


@dataclass(frozen=True)
class MatchConfig:
    """Settings of :class:`~remixmusic.novelty.match.Matcher` (exact and varied copies; see that module).

    ``min_length``: shortest exact match that counts, in symbols (a match of ``m`` symbols covers
    ``m + order`` notes); ``None``: the index's chance length + 2. ``min_bits``: least information
    (bits) of a copied match or a varied copy's reference passage; ``None``: the index's chance bits.
    ``stock_df``: document frequency (reference pieces) from which a match is a stock idiom; ``None``:
    ``max(5, ceil(1% of the reference pieces))``. ``max_sources``: occurrences (distinct pieces) listed per
    match. ``df_cap``: occurrences scanned to count distinct pieces. ``near``: look for varied copies.
    ``seed_length``: symbols of an exact seed of a varied copy; ``None``: ``max(3, min_length // 2)``.
    ``max_seed_occurrences``: a seed found more often than this is extended, symbol by symbol, until it
    is found at most this often (an adaptive seed: Kiełbasa et al. 2011), or skipped if it never is. ``max_edits``: most note
    edits (insertions, deletions, changes) of a varied copy. ``edit_rate``: at most one edit per
    ``1 / edit_rate`` notes. ``extension``: notes an alignment may extend a seed chain on each side (the
    alignment itself stops where its edit budget runs out, as BLAST's drop-off rule stops an extension:
    this only bounds the work, and must reach past the seedless parts of a copy: each edit spoils
    ``order + 1`` symbols, so two edits a few notes apart leave a dozen or more agreeing notes in no seed).
    ``max_chains``: seed chains aligned per line (first those with two seed runs or one run as long as an
    exact match, then lone seeds; in each, first those whose flanks agree with their reference line on a
    nearby diagonal, then those whose exact parts hold the most information).
    ``false_copies``: the expected number of chance copies per query piece that the information test
    allows (an E-value, as in BLAST: Karlin & Altschul 1990). A passage of ``b`` bits turns up by chance
    about ``n * m * 2**-b`` times between ``n`` reference and ``m`` query symbols, so a piece's copies need
    ``b >= max(min_bits, log2(n * m / false_copies))``: longer queries and larger references ask for more
    information, which keeps false copies rare in both. A varied copy's ``b`` is its bit score: the
    information of the relations between notes the query reproduces (the reference symbols its edits do
    not spoil, and the query's own symbols across a deleted note), less ``log2``
    of the number of edit patterns it could have had (see :mod:`remixmusic.novelty.edits`), so the
    freedom of the edit search is paid for and the bound holds for varied copies too.
    ``varied_false_copies``: the same allowance for varied copies alone (their bound is
    ``max(min_bits, log2(n * m / varied_false_copies))``); ``None``: ``false_copies``. The default, 0.02,
    is stricter than ``false_copies``: a chance varied copy covers a dozen notes or more, so at 0.05 per
    piece of ~60 notes the nominal rate alone would label about 1% of a no-copy query's notes varied,
    and an edit search that finds more alignments comes close to the nominal rate (on random-walk queries,
    ``benchmarks/attribution.py``: varied coverage 0.0088 at 0.05, 0.0050 at 0.02, Essen seed 1). Loosening it finds
    more varied copies of low-information material (reels) at the cost of chance copies of the corpus's
    formulas: ``benchmarks/attribution.py --sweep varied_false_copies=...`` measures both, the latter on
    style-matched surrogate pieces (:mod:`remixmusic.evaluation.surrogates`).

    Raises:
        ConfigError: a count below its minimum (1, or 0 for ``max_edits`` and ``extension``), negative
            ``min_bits``, ``edit_rate`` outside (0, 1], or ``near`` not a bool.
    """

    min_length: int | None = _count(None)
    min_bits: float | None = _number(None, 0.0)
    stock_df: int | None = _count(None)
    max_sources: int = _count(5)
    df_cap: int = _count(2000)
    near: bool = _bool(True)
    seed_length: int | None = _count(None)
    max_seed_occurrences: int = _count(256)
    max_edits: int = _count(2, minimum=0)
    edit_rate: float = _number(0.2, 0.0, 1.0, low_open=True)
    extension: int = _count(16, minimum=0)
    max_chains: int = _count(128)
    false_copies: float = _number(0.05, 0.0, low_open=True)
    varied_false_copies: float | None = _number(0.02, 0.0, low_open=True, none=True)

    def __post_init__(self) -> None:
        _validate(self, "matching")

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict (``None`` for thresholds derived from the index)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MatchConfig:
        """Inverse of :meth:`to_dict`; missing fields take their defaults.

        Raises:
            ConfigError: an unknown key (named in the message) or an invalid value.
        """
        return cls(**_known(cls, data, "matching"))

    def replace(self, **changes: Any) -> MatchConfig:
        """A copy with ``changes`` (field names) applied.

        Raises:
            ConfigError: an unknown field name or an invalid value.
        """
        return replace(self, **_known(MatchConfig, changes, "matching"))

    def resolve(self, index: Index) -> MatchConfig:
        """This config with every ``None`` threshold derived from ``index`` (see the class docstring):
        the exact settings a :class:`~remixmusic.novelty.match.Matcher` on ``index`` uses."""
        min_length = self.min_length if self.min_length is not None else index.chance_length + 2
        return replace(
            self,
            min_length=min_length,
            min_bits=self.min_bits if self.min_bits is not None else float(index.chance_bits),
            stock_df=self.stock_df
            if self.stock_df is not None
            else max(5, math.ceil(0.01 * index.n_pieces)),
            seed_length=self.seed_length if self.seed_length is not None else max(3, min_length // 2),
        )


@dataclass(frozen=True)
class SegmentConfig:
    """Settings of :class:`~remixmusic.novelty.segment.Segmenter` (motif boundaries; see that module).

    ``method``: one of :data:`METHODS`. ``threshold``: least LBDM boundary strength of a cut (strengths
    are normalized to [0, 1]). ``weights``: LBDM weights of the pitch-interval, inter-onset-interval and
    rest profiles. ``min_notes``/``max_notes``: motif length limits in notes (``lbdm``, ``surprisal``).
    ``window_beats``: window length of ``fixed`` in beats. ``surprisal_k``: a ``surprisal`` cut needs a
    note this many standard deviations above the piece's mean surprisal.

    Raises:
        ConfigError: an unknown method, ``threshold`` or a weight negative, weights not three or summing
            to 0, not ``1 <= min_notes <= max_notes``, or ``window_beats`` not positive.
    """

    method: str = _one_of("lbdm", METHODS, "segmentation")
    threshold: float = _number(0.3, 0.0)
    weights: tuple[float, float, float] = (0.25, 0.5, 0.25)
    min_notes: int = _count(4)
    max_notes: int = _count(16)
    window_beats: float = _number(4.0, 0.0, low_open=True)
    surprisal_k: float = _number(1.0, -math.inf)

    def __post_init__(self) -> None:
        _validate(self, "segmentation")
        weights = self.weights
        if isinstance(weights, (str, bytes)) or not hasattr(weights, "__len__") or len(weights) != 3:
            raise ConfigError(f"segmentation weights must be three numbers, not {weights!r}")
        w = tuple(_real("segmentation weight", x, 0.0) for x in weights)
        if sum(w) <= 0:
            raise ConfigError("segmentation weights must not all be 0")
        object.__setattr__(self, "weights", w)
        if self.min_notes > self.max_notes:
            raise ConfigError("segmentation needs 1 <= min_notes <= max_notes")

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict (``weights`` as a list)."""
        return {**asdict(self), "weights": list(self.weights)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SegmentConfig:
        """Inverse of :meth:`to_dict`; missing fields take their defaults.

        Raises:
            ConfigError: an unknown key (named in the message) or an invalid value.
        """
        return cls(**_known(cls, data, "segmentation"))


MATCHER_VERSION = "8"
"""Version of what the matcher labels for given settings: raised when a change to matching or scoring
changes labels with the same :class:`AnalysisConfig` (2: varied copies credit the symbols across a
deleted note, chains end on their best path, alignments are trimmed to their best-scoring part, a note
off in pitch and time costs 1.5; 3: a varied copy's symbols are credited by parts, interval and
inter-onset ratio apart, with the interval across a changed note, a chain's tempo may come from its
first run, and a voice moving under a note held in its track keeps its line; 7: an exact run of a varied
copy that is a copy on its own is copied; 8: inter-onset ratios at a score's half steps, the notes'
``half``), so cached analyses (the experiment's) are redone."""


@dataclass(frozen=True)
class AnalysisConfig:
    """Everything that decides an analysis' results (:func:`remixmusic.novelty.analyze.analyze`).

    ``match``: :class:`MatchConfig`. ``segmentation``: :class:`SegmentConfig`. ``label_share``: share of
    a motif's notes (0-1) that must carry a flag for its label (see :mod:`remixmusic.novelty.analyze`).
    ``leak_share``: a control piece with at least this share of its line notes matched to one reference
    piece duplicates it and is removed. ``originality``: also compute the Yin et al. originality score.
    ``invariance``/``lines``: the views when the reference index is built by the analysis (``None``: the
    defaults, or a given index's own). ``seed``: of the bootstrap in the query-vs-control statistics.
    ``timing``: ``file`` (onsets on the file's beat) or ``tracked`` (pieces played with free timing
    re-quantized on a tracked beat, queries, controls and a reference the analysis indexes:
    :func:`remixmusic.novelty.inputs.with_timing`).

    Run settings that do not change results (worker processes, progress bars) are not part of it.

    Raises:
        ConfigError: ``match``/``segmentation`` not config objects, a share outside (0, 1], an unknown
            invariance or line mode, ``originality`` not a bool, or a negative or non-integer seed.
    """

    match: MatchConfig = field(default_factory=MatchConfig)
    segmentation: SegmentConfig = field(default_factory=SegmentConfig)
    label_share: float = _number(0.5, 0.0, 1.0, low_open=True)
    leak_share: float = _number(0.5, 0.0, 1.0, low_open=True)
    originality: bool = _bool(True)
    invariance: str | None = _one_of(None, INVARIANCES, "invariance")
    lines: str | None = _one_of(None, LINE_MODES, "line mode")
    seed: int = _count(0, minimum=0)
    timing: str = _one_of("file", TIMINGS, "timing")

    def __post_init__(self) -> None:
        _validate(self, "analysis")
        if not isinstance(self.match, MatchConfig):
            raise ConfigError(f"analysis match must be a MatchConfig, not {type(self.match).__name__}")
        if not isinstance(self.segmentation, SegmentConfig):
            raise ConfigError(
                f"analysis segmentation must be a SegmentConfig, not {type(self.segmentation).__name__}"
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: ``match`` and ``segmentation`` nested, the other fields as they are."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**out, "match": self.match.to_dict(), "segmentation": self.segmentation.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnalysisConfig:
        """Inverse of :meth:`to_dict` (what ``report.json`` records as ``params["config"]``); missing
        fields, nested ones too, take their defaults.

        Raises:
            ConfigError: an unknown key at any level (named in the message) or an invalid value.
        """
        kwargs = _known(cls, data, "analysis")
        if "match" in kwargs:
            kwargs["match"] = MatchConfig.from_dict(kwargs["match"])
        if "segmentation" in kwargs:
            kwargs["segmentation"] = SegmentConfig.from_dict(kwargs["segmentation"])
        return cls(**kwargs)

    def with_options(self, **options: Any) -> AnalysisConfig:
        """A copy with flat keyword options applied; options that are ``None`` leave the field as it is.

        Accepted: this class's fields other than ``match``; ``segmentation`` as a method name or a
        :class:`SegmentConfig`; ``segmenter_params`` (a mapping of :class:`SegmentConfig` fields); and
        any :class:`MatchConfig` field (``min_length``, ``max_edits`` ...).

        Raises:
            ConfigError: an unknown option (named in the message) or an invalid value.
        """
        given = {k: v for k, v in options.items() if v is not None}
        own = {f.name for f in fields(self)} - {"match", "segmentation"}
        match_names = {f.name for f in fields(MatchConfig)}
        unknown = set(given) - own - match_names - {"segmentation", "segmenter_params"}
        if unknown:
            raise ConfigError(f"unknown analysis option(s): {', '.join(sorted(unknown))}")
        segmentation = given.get("segmentation", self.segmentation)
        if isinstance(segmentation, str):
            segmentation = replace(self.segmentation, method=segmentation)
        if not isinstance(segmentation, SegmentConfig):
            raise ConfigError(f"segmentation must be a method name or a SegmentConfig, not {segmentation!r}")
        if "segmenter_params" in given:
            segmentation = replace(
                segmentation, **_known(SegmentConfig, given["segmenter_params"], "segmentation")
            )
        return replace(
            self,
            match=self.match.replace(**{k: v for k, v in given.items() if k in match_names}),
            segmentation=segmentation,
            **{k: v for k, v in given.items() if k in own},
        )
