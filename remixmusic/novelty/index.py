"""Reference index: a suffix array over the symbol streams of a reference corpus, with provenance.

The index answers "where in the reference does this symbol sequence occur, and how far does it go" for
every position of a query at once. It is the suffix-array approach of infini-gram (Liu et al., 2024):
the concatenated reference streams are sorted by suffix, so every n-gram, of any length, is a contiguous
range of the suffix array found by binary search, and its count is the range's width.

Layout. Every line of every reference piece (see :mod:`remixmusic.views`) gets one *slot* per note. The
line's ``n - order`` symbols fill its first slots; its last ``max(order, 1)`` slots hold a separator
(``-1``), so no match runs from one line into the next. Per-slot provenance arrays give the piece, the
piece's note index, the onset (steps; ``half``: a score's half step, :func:`~remixmusic.music.notes.half_onsets`), bar and pitch of the note in that slot, so a match starting at
slot ``s`` of length ``m`` covers reference notes in slots ``s .. s + m - 1 + order``.

Memory per reference slot (one per line note; in the default ``melody`` mode, one per melody note): text int32 (4) + suffix
array int32 (4; int64 past 2**31 slots) + piece int32 (4) + note int32 (4) + onset int32 (4) + bar int32
(4) + pitch int8 (1) + half int8 (1) = **26 bytes**, plus a few bytes per line. A Lakh-size corpus of 100M notes is
about 2.5 GB on disk and is memory-mapped on load, so only the pages a query touches are read. Building
peaks at about 100 bytes per slot (int64 ranks, keys and order of the prefix-doubling sort; measured 550
MB for 5M slots), about 10 GB for 100M notes; the sort runs at about 0.8M slots/s on one core.

The suffix array is built by prefix doubling (Manber & Myers) with numpy: suffixes are sorted by their
first ``h`` symbols, and each round re-sorts only the groups still tied, by (rank of the first ``h``,
rank of the next ``h``) packed into one int64 key. Separators get unique ranks so no comparison ever
runs past the end of a line, which bounds the number of rounds by log2 of the longest repeated line
segment.

The index also carries a first-order model of its symbols (:class:`~remixmusic.information.SymbolModel`,
a few MB at most: distinct symbols and bigrams) and two chance levels: ``chance_length`` in symbols (from
shuffled lines) and ``chance_bits`` in information content (from surrogate lines sampled from that
model, which keep the repeated notes and scale runs a shuffle destroys); see
:mod:`remixmusic.information`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from remixmusic._util.display import summary_html
from remixmusic._util.files import atomic_directory, sha256_bytes
from remixmusic._util.parallel import progress_bar
from remixmusic._util.suffix_array import narrow, suffix_array
from remixmusic.errors import IndexFileError, RemixError
from remixmusic.evaluation.significance import group_ids
from remixmusic.music.lines import DEFAULT_LINES, LINES_VERSION, check_lines
from remixmusic.music.notes import Piece
from remixmusic.novelty.groups import inferred_tune_groups, tune_groups
from remixmusic.novelty.information import MODEL_ARRAYS, PartModels, SymbolModel
from remixmusic.novelty.inputs import _resolve_reference, piece_name
from remixmusic.novelty.symbols import (
    DEFAULT_INVARIANCE,
    IOI_RATIOS,
    ORDER,
    Stream,
    check_invariance,
    piece_streams,
)

FORMAT = "remixmusic-index"


FORMAT_VERSION = 2


SEPARATOR = -1


QUERY_BOUNDARY = -2  # joins query streams; matches nothing, not even a separator


CHANCE_QUANTILE = 0.99


_SLOT_ARRAYS = ("text", "piece", "note", "onset", "bar", "pitch", "half")


_LINE_ARRAYS = ("line_offsets", "line_piece", "line_track", "line_voice")


# (length, lo, hi, lo_d, hi_d, depth_d) of :meth:`Index.matching_statistics`: per query position, int64 each.
MatchingStatistics = tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None
]


@dataclass
class Index:
    """A reference corpus ready for matching. Build with :meth:`build`, persist with :meth:`save`/:meth:`load`.

    Attributes: ``invariance`` and ``lines`` (the views every query must use too), ``include_drums``,
    ``piece_names`` (file names or titles) and ``piece_sources`` (paths) of the reference pieces, the
    slot arrays (``text``, ``piece``, ``note``, ``onset``, ``bar``, ``pitch``), the ``sa`` over symbol
    slots only, the line arrays (``line_offsets`` into slots, ``line_piece``, ``line_track``,
    ``line_voice``), ``chance_length`` and ``chance_bits`` (see :meth:`estimate_chance_length` and
    :meth:`estimate_chance_bits`), the symbol ``model`` and ``manifest_hash``. ``piece_groups``: the
    tune-group label of each reference piece (:func:`~remixmusic.novelty.groups.tune_group`; ``""``
    unknown, a group of its own; empty for an index saved without them, where every piece is its own
    group); document frequency counts these groups (:attr:`piece_group`). ``lines_version``: how its
    lines were read (:data:`~remixmusic.music.lines.LINES_VERSION`; 1 for an index saved before it was
    recorded). ``timing``: how its pieces' onsets were read (:data:`~remixmusic.music.beats.TIMINGS`:
    ``tracked`` when performed pieces were re-quantized on a tracked beat; ``file`` for older indexes).
    """

    invariance: str
    lines: str
    include_drums: bool
    piece_names: list[str]
    piece_sources: list[str]
    text: np.ndarray
    sa: np.ndarray
    piece: np.ndarray
    note: np.ndarray
    onset: np.ndarray
    bar: np.ndarray
    pitch: np.ndarray
    half: np.ndarray
    line_offsets: np.ndarray
    line_piece: np.ndarray
    line_track: np.ndarray
    line_voice: np.ndarray
    model: SymbolModel | None = None
    chance_length: int = 0
    chance_bits: float = 0.0
    manifest_hash: str = ""
    lines_version: int = LINES_VERSION
    piece_groups: list[str] = field(default_factory=list)
    timing: str = "file"
    half_steps: bool = True  # its symbols keep a score's half steps (False: saved before them, no half.npy)

    # -- building ---------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        reference: object,
        invariance: str = DEFAULT_INVARIANCE,
        lines: str = DEFAULT_LINES,
        include_drums: bool = False,
        split: str | None = "train",
        jobs: int = 0,
        show_progress: bool = False,
        seed: int = 0,
    ) -> Index:
        """Index a reference corpus.

        ``reference``: a list of :class:`Piece`, a list of MIDI paths, a MIDI folder, a dataset name or
        folder, or a ``corpora.Dataset`` (its ``split`` is used; ``split=None`` means all of it). Each
        piece's tune group (``piece_groups``) comes from its dataset manifest where it has one
        (:func:`~remixmusic.novelty.groups.tune_group`); pieces without one (a MIDI folder) are grouped
        among themselves by the near-duplicate rule of dataset splits
        (:func:`~remixmusic.novelty.groups.inferred_tune_groups`: about 1 s per 2,000 pieces), so versions
        of one tune count once in a pattern's document frequency.

        Raises:
            RemixError: no readable piece or no line long enough to index; an unknown invariance or line
                mode.
        """
        check_invariance(invariance)
        check_lines(lines)
        pieces, manifest_hash = _resolve_reference(reference, split, jobs, show_progress)
        if not pieces:
            raise RemixError("the reference corpus has no readable pieces")
        order = ORDER[invariance]
        pad = max(order, 1)
        parts: dict[str, list[np.ndarray]] = {name: [] for name in (*_SLOT_ARRAYS, "line_len")}
        line_piece: list[int] = []
        line_track: list[int] = []
        line_voice: list[int] = []
        with progress_bar(disable=not show_progress) as progress:
            task = progress.add_task("indexing", total=len(pieces))
            for pid, piece in enumerate(pieces):
                streams = piece_streams(piece, invariance, lines, include_drums)
                if streams:
                    _append_piece(parts, piece, pid, streams, pad)
                    line_piece.extend([pid] * len(streams))
                    line_track.extend(s.line.track for s in streams)
                    line_voice.extend(s.line.voice for s in streams)
                progress.advance(task)
        if not line_piece:
            raise RemixError("the reference corpus has no melodic lines long enough to index")
        arrays = {name: np.concatenate(parts[name]) for name in _SLOT_ARRAYS}
        full_sa = suffix_array(arrays["text"])
        n_separators = int(np.count_nonzero(arrays["text"] < 0))
        names = [piece_name(p, i) for i, p in enumerate(pieces)]
        index = cls(
            invariance=invariance,
            lines=lines,
            include_drums=include_drums,
            piece_names=names,
            piece_sources=[p.source or "" for p in pieces],
            piece_groups=inferred_tune_groups(pieces, names, tune_groups(pieces)),
            sa=full_sa[n_separators:],
            line_offsets=np.concatenate([[0], np.cumsum(np.concatenate(parts["line_len"]))]).astype(np.int64),
            line_piece=np.asarray(line_piece, np.int32),
            line_track=np.asarray(line_track, np.int16),
            line_voice=np.asarray(line_voice, np.int16),
            manifest_hash=manifest_hash,
            text=arrays["text"],
            piece=arrays["piece"],
            note=arrays["note"],
            onset=arrays["onset"],
            bar=arrays["bar"],
            pitch=arrays["pitch"],
            half=arrays["half"],
        )
        if not index.manifest_hash:
            index.manifest_hash = sha256_bytes(index.text.tobytes() + "\n".join(index.piece_names).encode("utf-8", "surrogateescape"))
        index.model = SymbolModel.fit(index.text, index.sa)
        index.chance_length = index.estimate_chance_length(seed=seed)
        index.chance_bits = index.estimate_chance_bits(seed=seed)
        return index

    # -- sizes and lookups ------------------------------------------------------------------------
    @property
    def order(self) -> int:
        return ORDER[self.invariance]

    def exact_onset(self, slots: np.ndarray | int) -> np.ndarray:
        """Onsets (steps, float64) of the notes in ``slots``, a score's half steps included."""
        slots = np.asarray(slots)
        return np.asarray(self.onset[slots], np.float64) + np.asarray(self.half[slots], np.float64) / 2

    @property
    def n_pieces(self) -> int:
        return len(self.piece_names)

    @cached_property
    def piece_group(self) -> np.ndarray:
        """Tune-group number of each reference piece (int64, ``n_pieces`` values in ``0 ..
        n_groups - 1``), from ``piece_groups``; every piece its own group when those are empty (an index
        saved without them) or ``""``. Computed once: set ``piece_groups`` before the first use."""
        labels = self.piece_groups if len(self.piece_groups) == self.n_pieces else None
        return group_ids(labels, self.n_pieces)

    @cached_property
    def part_models(self) -> PartModels | None:
        """Models of the interval and ratio parts of the symbols (:class:`PartModels`), for scoring varied
        copies whose edits spoil one part of a symbol; ``None`` under invariances whose symbols have no
        separate pitch and timing parts (all but ``transposed+tempo``). Counted once, on first use."""
        if self.invariance != "transposed+tempo":
            return None
        return PartModels.fit(np.asarray(self.text), len(IOI_RATIOS))

    @property
    def n_groups(self) -> int:
        """Distinct tune groups among the reference pieces (``n_pieces`` when none are known)."""
        return int(self.piece_group.max()) + 1 if self.n_pieces else 0

    @property
    def n_symbols(self) -> int:
        return len(self.sa)

    @property
    def n_slots(self) -> int:
        return len(self.text)

    @property
    def nbytes(self) -> int:
        model = self.model
        extra = sum(getattr(model, name).nbytes for name in MODEL_ARRAYS) if model is not None else 0
        return extra + sum(getattr(self, name).nbytes for name in ("sa", *_SLOT_ARRAYS, *_LINE_ARRAYS))

    # -- identity and display ---------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        """Equal indexes index the same pieces the same way: the same settings, piece names, sources and
        tune groups, chance levels and manifest hash, and equal arrays (``np.array_equal``, so a loaded
        index, memory-mapped or not, equals the one saved). An index always equals itself."""
        if other is self:
            return True
        if not isinstance(other, Index):
            return NotImplemented
        if self._identity() != other._identity() or (self.model is None) != (other.model is None):
            return False
        names = ("sa", *_SLOT_ARRAYS, *_LINE_ARRAYS)
        if not all(np.array_equal(getattr(self, n), getattr(other, n)) for n in names):
            return False
        return self.model is None or all(
            np.array_equal(getattr(self.model, m), getattr(other.model, m)) for m in MODEL_ARRAYS
        )

    def __hash__(self) -> int:
        """Consistent with ``==`` (from the settings, sizes and manifest hash; cheap). Like any key, an
        index in a set or dict must not be changed."""
        return hash(self._identity()[:6])

    def _identity(self) -> tuple[object, ...]:
        """What equal indexes share besides their arrays; the first six fields are hashed."""
        return (
            self.invariance,
            self.lines,
            self.include_drums,
            self.n_slots,
            self.n_symbols,
            self.manifest_hash,
            self.chance_length,
            self.chance_bits,
            tuple(self.piece_names),
            tuple(self.piece_sources),
            tuple(self.piece_groups),
            self.timing,
        )

    def __repr__(self) -> str:
        return (
            f"Index({self.n_pieces} pieces in {self.n_groups} tune groups, {self.n_symbols:,} symbols; "
            f"invariance {self.invariance!r}, lines {self.lines!r}; chance {self.chance_length} symbols, "
            f"{self.chance_bits:.1f} bits)"
        )

    def _repr_html_(self) -> str:
        """A short summary for notebooks (a few hundred characters whatever the index size)."""
        facts = [
            ("reference pieces", self.n_pieces),
            ("tune groups", self.n_groups),
            ("symbols (slots)", f"{self.n_symbols:,} ({self.n_slots:,})"),
            ("invariance, lines", f"{self.invariance}, {self.lines}{', with drums' * self.include_drums}"),
            ("chance level", f"{self.chance_length} symbols, {self.chance_bits:.1f} bits"),
            ("memory", f"{self.nbytes / 1e6:.1f} MB"),
            ("manifest hash", self.manifest_hash[:16]),
        ]
        return summary_html("remixmusic reference index", facts, hint="Piece names: .piece_names")

    def streams(self, piece: Piece) -> list[Stream]:
        """A query piece's streams under this index's views (the only streams it can be matched with;
        at a score's half steps as the index's own: rounded in one saved before them)."""
        return piece_streams(piece, self.invariance, self.lines, self.include_drums, self.half_steps)

    def line_of(self, slots: np.ndarray) -> np.ndarray:
        """Line number of each slot."""
        return np.searchsorted(self.line_offsets, slots, side="right") - 1

    # -- search -----------------------------------------------------------------------------------
    def matching_statistics(
        self, query: np.ndarray, record_depth: int | None = None, max_count: int | None = None
    ) -> MatchingStatistics:
        """Longest reference match starting at every query position (the *matching statistics*).

        Returns ``(length, lo, hi, lo_d, hi_d, depth_d)``: ``length[i]`` symbols from ``query[i]`` occur
        in the reference, at the suffix-array range ``sa[lo[i]:hi[i]]`` (so ``hi - lo`` is the count);
        when ``record_depth`` is given, ``lo_d, hi_d`` is the (wider) range of the first ``depth_d[i]``
        symbols for positions whose match reaches ``record_depth`` (empty range and depth 0 otherwise):
        ``depth_d[i]`` is ``record_depth``, or with ``max_count``, the least depth from ``record_depth``
        on at which the prefix occurs at most ``max_count`` times, where the match reaches one (an
        *adaptive seed*, extended until it is rare enough: Kiełbasa et al. 2011, "Adaptive seeds tame
        genomic sequence comparison", *Genome Research* 21(3)).

        All query positions are extended together, one symbol per step; each step narrows every
        position's range with a vectorized binary search on the next symbol (infini-gram's range
        narrowing), so the cost is about ``sum(length) * log2(n)`` element operations. Negative query
        values match nothing, which is how :meth:`matching_statistics_many` batches several streams.
        """
        q = np.asarray(query, dtype=np.int64)
        m = len(q)
        length = np.zeros(m, np.int64)
        lo = np.zeros(m, np.int64)
        hi = np.full(m, len(self.sa), np.int64)
        lo_d, hi_d = np.zeros(m, np.int64), np.zeros(m, np.int64)  # filled from ``record_depth`` on
        depth_d = np.zeros(m, np.int64)
        active = np.arange(m)
        depth = 0
        while len(active):
            new_lo, new_hi = narrow(self.text, self.sa, lo[active], hi[active], depth, q[active + depth])
            found = new_lo < new_hi
            active = active[found]
            lo[active], hi[active] = new_lo[found], new_hi[found]
            length[active] = depth + 1
            depth += 1
            if depth == record_depth:
                lo_d[active], hi_d[active], depth_d[active] = lo[active], hi[active], depth
            elif record_depth is not None and max_count is not None and depth > record_depth:
                # seeds still too common: take this depth where it is the first rare enough
                take = active[(hi_d[active] - lo_d[active] > max_count) & (hi[active] - lo[active] <= max_count)]
                lo_d[take], hi_d[take], depth_d[take] = lo[take], hi[take], depth
            active = active[active + depth < m]
        hi[length == 0] = lo[length == 0]
        if record_depth is None:
            return length, lo, hi, None, None, None
        return length, lo, hi, lo_d, hi_d, depth_d

    def matching_statistics_many(
        self, queries: Sequence[np.ndarray], record_depth: int | None = None, max_count: int | None = None
    ) -> list[MatchingStatistics]:
        """:meth:`matching_statistics` of several streams in one vectorized pass (one result each)."""
        if not queries:
            return []
        sizes = np.array([len(q) for q in queries])
        joined = np.full(int(sizes.sum()) + len(queries), QUERY_BOUNDARY, np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes + 1)[:-1]])
        for start, q in zip(starts, queries, strict=True):
            joined[start : start + len(q)] = q
        stats = self.matching_statistics(joined, record_depth, max_count)
        return [
            tuple(None if column is None else column[a : a + n] for column in stats)  # type: ignore[misc]
            for a, n in zip(starts, sizes, strict=True)
        ]

    def count(self, query: np.ndarray) -> int:
        """Occurrences of the whole symbol sequence ``query`` in the reference."""
        q = np.asarray(query, dtype=np.int64)
        if len(q) == 0:
            return len(self.sa)
        length, lo, hi = self.matching_statistics(q)[:3]
        return int(hi[0] - lo[0]) if length[0] == len(q) else 0

    def estimate_chance_length(
        self, streams: Sequence[np.ndarray] | None = None, quantile: float = CHANCE_QUANTILE, seed: int = 0
    ) -> int:
        """The match length (symbols) that random material reaches against this reference.

        Shuffles each stream (default: a sample of up to 2,000 reference lines, 100,000 symbols), which
        keeps the symbol frequencies but destroys order, and returns the ``quantile`` of the matching
        statistics of the shuffled material. Matches longer than this are unlikely to be chance.
        """
        rng = np.random.default_rng(seed)
        if streams is None:
            streams = self._sample_lines(rng)
        shuffled = [rng.permutation(np.asarray(s)) for s in streams if len(s)]
        if not shuffled:
            return 0
        lengths = [r[0] for r in self.matching_statistics_many(shuffled)]
        return int(np.ceil(np.quantile(np.concatenate(lengths), quantile)))

    def estimate_chance_bits(
        self, n_streams: Sequence[int] | None = None, quantile: float = CHANCE_QUANTILE, seed: int = 0
    ) -> float:
        """The information content (bits) that chance matches reach against this reference.

        Samples surrogate lines from the index's first-order symbol model (default: as long as a sample
        of up to 2,000 reference lines, 100,000 symbols, each cut to 512 symbols), takes the longest
        match at every position and returns the ``quantile`` of their information content
        (:meth:`SymbolModel.passage_bits`). Unlike shuffling, the surrogates keep the reference's runs
        and steps, so low-complexity material reaches long matches here too, with few bits.
        """
        if self.model is None:
            raise RemixError("this index has no symbol model; rebuild it")
        rng = np.random.default_rng(seed)
        if n_streams is None:
            n_streams = [len(s) for s in self._sample_lines(rng)]
        lengths = np.minimum(np.asarray([n for n in n_streams if n > 0], np.int64), 512)
        if len(lengths) == 0:
            return 0.0
        surrogates = self.model.sample(lengths, rng)
        longest = np.concatenate([r[0] for r in self.matching_statistics_many(surrogates)])
        joined = np.concatenate(surrogates)  # a match never runs past the end of its own line
        return float(np.quantile(self.model.passage_bits(joined, np.arange(len(joined)), longest), quantile))

    def _sample_lines(self, rng: np.random.Generator, max_lines: int = 2000, max_symbols: int = 100_000):
        n_lines = len(self.line_piece)
        chosen = rng.permutation(n_lines)[:max_lines]
        out, total = [], 0
        for line in chosen:
            a, b = int(self.line_offsets[line]), int(self.line_offsets[line + 1])
            symbols = np.asarray(self.text[a:b])
            symbols = symbols[symbols >= 0]
            out.append(symbols)
            total += len(symbols)
            if total >= max_symbols:
                break
        return out

    # -- persistence ------------------------------------------------------------------------------
    def header(self) -> dict:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "invariance": self.invariance,
            "lines": self.lines,
            "include_drums": self.include_drums,
            "n_pieces": self.n_pieces,
            "n_slots": self.n_slots,
            "n_symbols": self.n_symbols,
            "chance_length": self.chance_length,
            "chance_bits": self.chance_bits,
            "chance_quantile": CHANCE_QUANTILE,
            "manifest_hash": self.manifest_hash,
            "lines_version": self.lines_version,
            "timing": self.timing,
            "piece_names": self.piece_names,
            "piece_sources": self.piece_sources,
            "piece_groups": self.piece_groups,
        }

    def save(self, path: str | Path) -> Path:
        """Write the index as a folder of ``.npy`` files plus ``header.json``; atomic (a temporary sibling
        folder is renamed into place, replacing any previous index there)."""
        path = Path(path)
        if path.exists() and not (path / "header.json").exists():
            raise IndexFileError(f"{path}: exists and is not a remixmusic index; not overwriting it")
        with atomic_directory(path) as tmp:
            for name in ("sa", *_SLOT_ARRAYS, *_LINE_ARRAYS):
                np.save(tmp / f"{name}.npy", np.ascontiguousarray(getattr(self, name)))
            if self.model is not None:
                for name in MODEL_ARRAYS:
                    np.save(tmp / f"model_{name}.npy", getattr(self.model, name))
            (tmp / "header.json").write_text(json.dumps(self.header(), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path, mmap: bool = True) -> Index:
        """Open a saved index; arrays are memory-mapped read-only unless ``mmap`` is false."""
        path = Path(path)
        try:
            header = json.loads((path / "header.json").read_text())
        except FileNotFoundError:
            raise IndexFileError(f"{path}: not a remixmusic index (no header.json)") from None
        except (OSError, ValueError) as exc:
            raise IndexFileError(f"{path}: unreadable index header ({exc})") from None
        if header.get("format") != FORMAT or header.get("format_version") != FORMAT_VERSION:
            raise IndexFileError(
                f"{path}: index format {header.get('format')!r} version {header.get('format_version')!r}; "
                f"this remixmusic reads {FORMAT!r} version {FORMAT_VERSION} (rebuild the index)"
            )
        arrays: dict[str, np.ndarray] = {}
        for name in ("sa", *_SLOT_ARRAYS, *_LINE_ARRAYS, *(f"model_{m}" for m in MODEL_ARRAYS)):
            if name == "half" and not (path / "half.npy").exists():  # saved before half steps: none
                arrays[name] = np.zeros(len(arrays["text"]), np.int8)  # (and rounded symbols: half_steps)
                continue
            try:
                arrays[name] = np.load(path / f"{name}.npy", mmap_mode="r" if mmap else None)
            except (OSError, ValueError) as exc:
                raise IndexFileError(f"{path}: damaged index array {name}.npy ({exc})") from None
            # Any integer width reads the same (older indexes may hold other widths than build writes now).
            if arrays[name].ndim != 1 or arrays[name].dtype.kind not in "iu":
                raise IndexFileError(f"{path}: damaged index array {name}.npy (not 1-D integers)")
        model = SymbolModel(*(np.asarray(arrays.pop(f"model_{m}")) for m in MODEL_ARRAYS))
        if len(arrays["text"]) != header["n_slots"] or len(arrays["sa"]) != header["n_symbols"]:
            raise IndexFileError(f"{path}: index arrays do not match its header (damaged or mixed files)")
        # An index saved before tune groups has none: every piece is then its own group.
        groups = [str(g) for g in header.get("piece_groups") or []]
        if groups and len(groups) != len(header["piece_names"]):
            raise IndexFileError(
                f"{path}: {len(groups)} piece groups for {len(header['piece_names'])} pieces"
            )
        return cls(
            invariance=check_invariance(header["invariance"]),
            lines=check_lines(header["lines"]),
            include_drums=bool(header["include_drums"]),
            piece_names=list(header["piece_names"]),
            piece_sources=list(header["piece_sources"]),
            model=model,
            chance_length=int(header["chance_length"]),
            chance_bits=float(header["chance_bits"]),
            manifest_hash=str(header["manifest_hash"]),
            piece_groups=groups,
            lines_version=int(header.get("lines_version", 1)),  # saved before it was recorded: 1
            timing=str(header.get("timing", "file")),
            half_steps=(path / "half.npy").exists(),
            **arrays,
        )


def _append_piece(
    parts: dict[str, list[np.ndarray]], piece: Piece, pid: int, streams: list[Stream], pad: int
):
    """Slot arrays of one piece's lines: symbols then ``pad`` separators per line, provenance per note."""
    line_notes = [s.line.notes for s in streams]
    n_notes = np.array([len(x) for x in line_notes])
    # A line of n notes takes max(n, n_symbols + pad) slots: n when order >= 1, n + 1 when order == 0.
    n_symbols = np.array([len(s.symbols) for s in streams])
    n_slots = np.maximum(n_notes, n_symbols + pad)
    total = int(n_slots.sum())
    starts = np.concatenate([[0], np.cumsum(n_slots)[:-1]])
    text = np.full(total, SEPARATOR, np.int32)
    note = np.full(total, -1, np.int32)
    for s, start, notes in zip(streams, starts, line_notes, strict=True):
        text[start : start + len(s.symbols)] = s.symbols
        note[start : start + len(notes)] = notes
    valid = note >= 0
    src = piece.notes[np.where(valid, note, 0)]
    onset = np.where(valid, src["onset"], 0).astype(np.int32)
    bar = np.zeros(total, np.int32)
    if valid.any():
        bar[valid] = piece.bar_of(onset[valid])
    parts["text"].append(text)
    parts["note"].append(note)
    parts["onset"].append(onset)
    parts["bar"].append(bar)
    parts["pitch"].append(np.where(valid, src["pitch"], 0).astype(np.int8))
    parts["half"].append(np.where(valid, src["half"], 0).astype(np.int8))
    parts["piece"].append(np.full(total, pid, np.int32))
    parts["line_len"].append(n_slots)
