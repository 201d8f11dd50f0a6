"""Near-duplicates that survive performance and arrangement: the grouping rule of version 2
(:class:`TuneMatchRule`).

Version 1 (:class:`remixmusic.data.splits.NearDuplicateRule`) compares sets of exact interval 5-grams of
the score skyline. A performance breaks most of them: a grace note, a trill, a bass note played a little
early or an accompaniment note heard between two detached melody notes each change the intervals around
it: on performance-like renditions of Essen tunes (``benchmarks/near_duplicates.py``) version 1 groups a
third of the renditions with their tune, version 2 nine in ten. Version 2 keeps version 1's relation and
adds a second, tolerant one; two pieces are the same tune if either holds:

1. **Version 1** on the score skyline (interval 5-gram Jaccard similarity at least 0.3; the parameters
   are ``ngram_rule``, a :class:`~remixmusic.data.splits.NearDuplicateRule`). A corpus of clean score lines
   (monophonic, quantized: see :class:`remixmusic.music.tune_line.Tune`) is grouped exactly as by
   version 1.
2. **Alignment of tune lines**, for every pair of which at least one line is not clean (read from a
   chordal texture or an unquantized performance):

   * *Line.* Each piece's tune line (:func:`remixmusic.music.tune_line.tune`): onset clusters, a
     continuous top voice, ornaments reduced, repeated pitches merged; order only, so tempo and its drift
     do not matter.
   * *Candidates.* Each line's *gapped* interval 4-grams: for every six consecutive notes, the intervals
     from the first to every choice of four of the other five, so that a note inserted or lost among six
     still leaves one 4-gram intact (the gapped seeds of homology search, e.g. Burkhardt & Kärkkäinen
     2003, "Better filtering with gapped q-grams", *Fundamenta Informaticae* 56). Lines are compared by
     the tf-idf cosine of those sets (Salton & Buckley 1988; idf smoothed, ``smooth_idf``, so a 4-gram
     every line has still counts) from an inverted index (4-grams in more than ``max_df`` lines are
     skipped there, so the cosine leaves out what two lines share of the commonest; pairs below
     ``min_cosine`` are dropped); each line's ``neighbours`` most similar lines are candidates,
     and so are pairs whose 4-gram sets share a band of ``lsh_rows`` MinHash values (Broder 1997; the
     nearly equal lines made only of common 4-grams).
   * *Verification.* Smith-Waterman local alignment (Smith & Waterman 1981, *J. Mol. Biol.* 147) of the
     two pitch-class sequences under the ``transpositions`` best transpositions (circular
     cross-correlation of their pitch-class histograms): match +1, mismatch -1, leaving a note out
     ``gap``, or only ``detour`` for a note the line leaves and comes back from (lower than both
     neighbours, as an accompaniment note heard in a gap of the melody is; a neighbour tone between two
     equal notes, as an ornament's remainder is). Pitch classes make an octave move of the melody, or an
     octave doubling taking over the top voice, cost nothing. This is the alignment approach to melodic
     similarity (Mongeau & Sankoff 1990) that folk-tune-family retrieval uses (van Kranenburg, Volk &
     Wiering 2013, "A comparison between global and local features for computational classification of
     folk song melodies", *J. New Music Research* 42). The pair is the same tune when the score clears
     what chance gives two lines of ``m`` and ``n`` notes, ``score_slope * ln(m' n') + score_offset``
     (local alignment scores of unrelated sequences grow with ``ln(m n) / lambda``, Karlin & Altschul
     1990; on unrelated Essen tunes the median is ``1.76 ln(m n) - 4.9`` and the 99.9th percentile about
     7 above it) over the effective lengths ``m' = max(m - S + 1, 1)``, ``n'`` likewise, where ``S`` is the
     bound: an alignment scoring ``S`` spans ``S`` notes or more, so it has only ``m - S + 1`` places to
     start (BLAST's edge-effect correction, Altschul & Gish 1996; :meth:`TuneMatchRule.chance_bound`).
     Without it a short tune could not be grouped at all: an identical 16-note line scores 16 against
     a plain bound of 17.8. The score also reaches ``min_coverage`` times the length of the shorter line
     (the first ``max_notes`` notes of a line are aligned): a density test, which unrelated long lines
     that share a passage fail. Between two lines that are both estimates (two performances, neither a
     clean score line) the errors of both add up, and the density asked is ``min_coverage_both``. The two tests trade against each other: the defaults (slope 2.5, offset
     5.75, coverage 0.75) were chosen over the earlier 1.76, 12.5 and 0.7 (which follow the median's
     slope) because, with the stricter density test holding the long lines, a bound that is lower for
     short lines and the same for long ones (about 14.3 for two lines of 18 notes, 28.8 for two of 100)
     groups more renditions with *fewer* false merges at every seed of ``benchmarks/near_duplicates.py``
     (Essen renditions at two seeds and rubato timing: recall +0.7 to +1.8 points, false-merge pairs 803
     -> 736, 3,189 -> 2,047, 254 -> 210); rules recorded before keep their values, and
     their ``max_df`` 300 and ``min_cosine`` 0.05, the candidates' defaults before 400 and 0.03: half of the
     renditions left apart at those were never aligned with their tune, whose shared 4-grams were
     mostly ones more than 300 lines hold (cosine 0.1 to 0.4 over all 4-grams, under 0.05 over the
     rest); at 400 and 0.03, +0.5 to +0.7 points at the three runs, with 0, 12 and 1 more false-merge
     pairs, for about a third more candidate-finding time.

Groups are *anchored* (``anchored``; :func:`anchored_components`): version 1's pairs of clean score lines join
first, as version 1 groups them, and a group holding a clean line is anchored to a tune; every other pair that
holds then joins groups in order of alignment score per note, best first (single linkage in Kruskal's order),
except that two anchored groups are joined only through a performed line that plays both tunes, one after or
inside the other (a medley, a quodlibet: none of the tunes it has joined, each played over for verses and
repeats, aligns with 0.7 of the notes of the passage it shares with the second tune). Connected components of
the relation (rules recorded before) let one performance that clears the bound against its own tune and, by
chance or family likeness, against a tune the scores keep apart chain the two groups into one: on
``benchmarks/near_duplicates.py`` (Essen renditions with O'Neill's as distractors) anchored groups cut the
false-merge pairs from 736, 2,089 and 211 (seeds 0 and 1, rubato) to 0, 1 and 0, below version 1's 594, 562
and 67, at the same recall but for one rendition in 1,200 (seed 1). A collection with no clean line (only
performances, or only chordal scores) has nothing to anchor and is grouped as before. Lines shorter than
``min_notes`` never match by alignment. The work is the alignment of about ``neighbours`` pairs for each piece
whose line is not clean, batched in numpy: 11,700 pieces (Essen, O'Neill's and 1,200 renditions) take 8 s of
lines and 50 s of grouping on one core (``benchmarks/near_duplicates.py``, which also measures what it finds).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Any

import numpy as np

from remixmusic._util.arrays import splitmix64
from remixmusic.data.splits import NearDuplicateRule, jaccard
from remixmusic.data.tune_align import alignment_scores, alignment_span
from remixmusic.music.lines import melody_line
from remixmusic.music.notes import Piece
from remixmusic.music.tune_line import TuneLineConfig, tune

RULE_VERSION = 2


@dataclass(frozen=True)
class TuneFingerprint:
    """What version 2 compares of a piece: its tune line (int16 pitches, repeats merged), whether the
    line is clean, and version 1's interval n-gram codes of its score skyline (sorted uint64)."""

    pitches: np.ndarray
    clean: bool
    ngrams: np.ndarray


@dataclass(frozen=True)
class TuneMatchRule:
    """Which pieces are the same tune, tolerant of performance and arrangement (module docstring).

    Raises:
        ValueError: (on construction) a ``version`` other than 2, or ``gram``/``window`` out of range.
    """

    version: int = RULE_VERSION
    ngram_rule: NearDuplicateRule = field(default_factory=NearDuplicateRule)
    line: TuneLineConfig = field(default_factory=TuneLineConfig)
    min_notes: int = 12
    gram: int = 4
    window: int = 6
    max_df: int = 400
    neighbours: int = 10
    min_cosine: float = 0.03
    smooth_idf: bool = True
    lsh_bands: int = 30
    lsh_rows: int = 4
    seed: int = 0
    transpositions: int = 4
    gap: float = 1.0
    detour: float = 0.25
    score_slope: float = 2.5
    score_offset: float = 5.75
    min_coverage: float = 0.75
    min_coverage_both: float = 0.7
    max_notes: int = 800
    edge_correction: bool = True
    anchored: bool = True
    performed_order: bool = True

    def __post_init__(self) -> None:
        if self.version != RULE_VERSION:
            raise ValueError(f"TuneMatchRule is version {RULE_VERSION}, not {self.version}")
        if not 1 <= self.gram < self.window <= 8:
            raise ValueError("need 1 <= gram < window <= 8")

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["ngram_rule"] = self.ngram_rule.to_dict()
        out["line"] = self.line.to_dict()
        return out

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> TuneMatchRule:
        values = dict(record)
        values["ngram_rule"] = NearDuplicateRule(**values.get("ngram_rule", {}))
        # a record from before the upper-stream interval (upper_window), the legato step down (legato),
        # anchored onset clusters, graces a leap away (grace_leap) or pads keeps the line it was grouped with
        old = {"upper_window": 0, "legato": 0.0, "anchored": False, "grace_leap": 2, "pads": False}
        values["line"] = TuneLineConfig(**{**old, **values.get("line", {})})
        # ... and one from before smoothed idf weights keeps the candidates it was grouped with
        values.setdefault("smooth_idf", False)
        # ... and one from before the edge correction keeps its plain chance bound
        values.setdefault("edge_correction", False)
        # ... and one from before the density test between two performed lines keeps its one density
        values.setdefault("min_coverage_both", values.get("min_coverage", 0.7))
        # ... and one from before anchored groups keeps the connected components it was grouped by
        values.setdefault("anchored", False)
        # ... and one from before pairs with a score line were ordered per note of the performance keeps
        # its order (per note of the shorter line)
        values.setdefault("performed_order", False)
        return cls(**values)

    def fingerprint(self, piece: Piece) -> TuneFingerprint:
        """The piece's :class:`TuneFingerprint`. Raises nothing."""
        found = tune(piece, self.line)
        return TuneFingerprint(found.pitches, found.clean, self.ngram_rule.fingerprint(melody_line(piece)))

    def fingerprint_of(self, melody: np.ndarray, tune_pitches: np.ndarray, clean: bool) -> TuneFingerprint:
        """A fingerprint from stored lines: the score skyline ``melody`` and the tune line (as a dataset
        build keeps them in its records)."""
        pitches = np.asarray(tune_pitches, np.int16)
        keep = np.ones(len(pitches), bool)
        keep[1:] = pitches[1:] != pitches[:-1]
        return TuneFingerprint(pitches[keep], bool(clean), self.ngram_rule.fingerprint(np.asarray(melody)))

    def edges(self, fingerprints: list[TuneFingerprint]) -> np.ndarray:
        """Pairs ``(i, j)``, ``i < j``, that are the same tune by either relation, ``(pairs, 2)``."""
        near, aligned, _ = self._relation(fingerprints)
        return np.concatenate([near, aligned])

    def _relation(self, fingerprints: list[TuneFingerprint]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Version 1's pairs ``(pairs, 2)``, the aligned pairs that pass ``(aligned, 2)``, and their
        alignment scores ``(aligned,)``."""
        codes = [f.ngrams for f in fingerprints]
        near = self.ngram_rule.candidate_pairs(codes)
        near = near[[jaccard(codes[i], codes[j]) >= self.ngram_rule.threshold for i, j in near.tolist()]]
        lines = [f.pitches for f in fingerprints]
        clean = np.array([f.clean for f in fingerprints], bool)
        pairs = candidate_pairs(lines, self) if not clean.all() else np.zeros((0, 2), np.int64)
        pairs = pairs[~(clean[pairs[:, 0]] & clean[pairs[:, 1]])]
        scores = alignment_scores(lines, pairs, self)
        passed = self.same_tune(lines, pairs, scores, clean)
        return near.reshape(-1, 2).astype(np.int64), pairs[passed].astype(np.int64), scores[passed]

    def same_tune(
        self, lines: list[np.ndarray], pairs: np.ndarray, scores: np.ndarray, clean: np.ndarray | None = None
    ) -> np.ndarray:
        """Whether each aligned pair clears both bounds of the module docstring, boolean ``(pairs,)``;
        ``clean``: per line, whether it is a clean score line (when given, a pair of two lines that are
        not is held to ``min_coverage_both``)."""
        lengths = self.aligned_lengths(lines)
        m, n = lengths[pairs[:, 0]], lengths[pairs[:, 1]]
        density = np.full(len(pairs), self.min_coverage)
        if clean is not None:
            density[~clean[pairs[:, 0]] & ~clean[pairs[:, 1]]] = self.min_coverage_both
        return (scores >= self.chance_bound(m, n)) & (scores >= density * np.minimum(m, n))

    def aligned_lengths(self, lines: list[np.ndarray]) -> np.ndarray:
        """The notes of each line that are aligned (at most ``max_notes``, at least 1), int64 ``(lines,)``."""
        return np.maximum(np.minimum(np.array([len(x) for x in lines], np.int64), self.max_notes), 1)

    def chance_bound(self, m: np.ndarray, n: np.ndarray) -> np.ndarray:
        """The score two unrelated lines of ``m`` and ``n`` notes reach by chance (module docstring),
        float64 like ``m``: ``score_slope * ln(m' n') + score_offset``. With ``edge_correction``, ``m'`` and
        ``n'`` are the *effective* lengths ``max(m - S + 1, 1)``, ``S`` the bound itself (the root of a
        decreasing function, found by bisection): an alignment scoring ``S`` spans at least ``S`` notes
        of each line (a note adds at most 1), so it can start at only ``m - S + 1`` places of a line of
        ``m``. This is the edge-effect (length) correction of BLAST's Karlin-Altschul E-values (Altschul &
        Gish 1996, *Methods Enzymol.* 266); it matters for short lines, where an alignment as long as
        the line has few places to be by chance. Without it (rules recorded before it), ``m' = m``."""
        m, n = np.asarray(m, np.float64), np.asarray(n, np.float64)
        plain = self.score_slope * np.log(m * n) + self.score_offset
        if not self.edge_correction:
            return plain
        # bound(S) falls as S grows, so S = bound(S) has one root in [offset, plain].
        low, high = np.full_like(plain, self.score_offset), plain.copy()
        for _ in range(40):
            mid = (low + high) / 2
            value = self.score_slope * np.log(np.maximum(m - mid + 1, 1.0) * np.maximum(n - mid + 1, 1.0))
            above = value + self.score_offset > mid
            low, high = np.where(above, mid, low), np.where(above, high, mid)
        return (low + high) / 2

    def identity(self, fingerprint: TuneFingerprint) -> bytes | None:
        """A key equal for equal fingerprints that the rule groups with themselves (by version 1: enough
        n-grams); ``None`` for those it never groups (:func:`remixmusic.data.splits.group_and_split`)."""
        codes = self.ngram_rule.identity(fingerprint.ngrams)
        if codes is None:
            return None
        return b"\0".join([codes, np.ascontiguousarray(fingerprint.pitches).tobytes(), bytes([fingerprint.clean])])

    def groups(self, fingerprints: list[TuneFingerprint]) -> np.ndarray:
        """Group label of each piece: the index of the first piece of its near-duplicate group (module
        docstring: with ``anchored``, :func:`anchored_components`; without, the connected components of
        :meth:`edges`)."""
        near, aligned, scores = self._relation(fingerprints)
        clean = np.array([f.clean for f in fingerprints], bool)
        if not self.anchored or not clean.any() or clean.all():
            return connected_components(len(fingerprints), np.concatenate([near, aligned]))
        lines = [f.pitches for f in fingerprints]
        trusted = clean[near[:, 0]] & clean[near[:, 1]]
        loose = np.concatenate([near[~trusted], aligned])
        # version 1's pairs are transposition-free: their alignment is tried in every key (a medley's
        # first tune in another key than most of its notes)
        every_key = replace(self, transpositions=12)
        loose_scores = np.concatenate([alignment_scores(lines, near[~trusted], every_key), scores])
        return anchored_components(lines, clean, near[trusted], loose, loose_scores, self)


def melody_duplicates(reference: Sequence[Piece], pieces: Sequence[Piece], rule: TuneMatchRule | None = None) -> np.ndarray:
    """Which reference piece each of ``pieces`` shares its tune with: int64 ``(len(pieces),)``, the
    position in ``reference`` of the first reference piece of the same tune, -1 for none.

    The near-duplicate relation of dataset splits (``rule``, a :class:`TuneMatchRule` by default, on
    the melody part: a Soprano- or Melody-named part, else the top line) between the two sets. A
    dataset's split keeps its own near-duplicate groups apart, but a manifest made under an older rule
    (or a tune the rule missed, such as a hymn tune harmonised twice) can still put one tune on both
    sides: a human piece that carries a reference tune "copies" its own melody from the reference
    (a quarter of a four-voice chorale's notes), so it is no control for copying.
    """
    rule = rule if rule is not None else TuneMatchRule()
    out = np.full(len(pieces), -1, np.int64)
    if not len(reference) or not len(pieces):
        return out
    prints = [rule.fingerprint(p) for p in (*reference, *pieces)]
    pairs = rule.edges(prints)
    n = len(reference)
    cross = pairs[(pairs[:, 0] < n) & (pairs[:, 1] >= n)]
    for ref, piece in sorted(cross.tolist(), reverse=True):  # the first reference piece wins
        out[piece - n] = ref
    return out


def connected_components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Label of each of ``n`` nodes under the edges ``pairs``: the smallest node of its component."""
    groups = _UnionFind(n)
    for i, j in pairs.tolist():
        groups.union(groups.find(i), groups.find(j))
    return groups.labels()


class _UnionFind:
    """Disjoint sets of ``n`` nodes (path compression); a union keeps the smaller root."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, a: int, b: int) -> int:
        """Join the sets of roots ``a`` and ``b``; the root of the union."""
        self.parent[max(a, b)] = min(a, b)
        return min(a, b)

    def labels(self) -> np.ndarray:
        return np.array([self.find(i) for i in range(len(self.parent))], dtype=np.int64)


def anchored_components(
    lines: list[np.ndarray],
    clean: np.ndarray,
    trusted: np.ndarray,
    loose: np.ndarray,
    scores: np.ndarray,
    rule: TuneMatchRule,
) -> np.ndarray:
    """Groups in which a performance or arrangement never joins two tunes that the scores keep apart,
    unless it plays both (a medley, a set of tunes, a quodlibet). Label of each piece: the smallest piece of its
    group, int64 ``(len(lines),)``.

    ``lines``: each piece's tune line; ``clean`` boolean ``(pieces,)``: whether it is a clean score line.
    The ``trusted`` pairs ``(pairs, 2)`` join pieces first (version 1's pairs of two clean lines, as
    version 1 groups them); a group that holds a clean line is *anchored*: the scores have said which
    tune it is. The ``loose`` pairs ``(pairs, 2)`` (every pair with a line that is not clean, alignment
    ``scores`` ``(pairs,)``) then join groups in order of score per note (of the performed line when
    the other is a clean score line, with ``performed_order``: how much of the performance the tune
    explains, so a performance joins its whole tune before a short tune that is one passage of it; else
    of the shorter line), highest
    first (single linkage in Kruskal's order; ties by score, then by the lines' content, so the groups do
    not depend on the pieces' order), under one constraint: two anchored groups are joined only when a
    performed line ``x`` of the pair plays, where it aligns with the other piece, a passage that none of
    the pieces ``x`` has joined so far explains: each aligns (its line played over as often as the
    passage needs, for a passage across the end of a verse or repeat; every key tried) with fewer than
    ``min_coverage_both`` of the passage's notes (score per note of the passage), as another tune of a
    medley or a quodlibet does, and a second reading of a tune already joined does not. (The chance
    bound is no test here: a long passage clears it against a tune of the same style by style alone.)
    This is single linkage with cannot-link constraints (Wagstaff, Cardie, Rogers & Schroedl 2001,
    "Constrained K-means clustering with background knowledge", *ICML*), drawn from the scores' own
    grouping: a performance that clears the bound against its own tune and, by chance or by family
    likeness, against another tune joins the one it matches best and does not chain the two."""
    groups = _UnionFind(len(lines))
    for i, j in trusted.tolist():
        groups.union(groups.find(i), groups.find(j))
    anchored = np.zeros(len(lines), bool)
    anchored[[groups.find(i) for i in np.flatnonzero(clean).tolist()]] = True
    lengths = rule.aligned_lengths(lines)
    # a score line against a performed line: per note of the performance (how much of it the tune
    # explains), so its whole tune joins before a short tune that is one passage of it
    first, second = loose[:, 0], loose[:, 1]
    notes = np.where(
        (clean[first] != clean[second]) & rule.performed_order,
        np.where(clean[first], lengths[second], lengths[first]),
        np.minimum(lengths[first], lengths[second]),
    )
    per_note = scores / np.maximum(notes, 1)
    content = np.array([zlib.crc32(np.asarray(x, np.int16).tobytes()) for x in lines], np.int64)
    low = np.minimum(content[first], content[second])
    high = np.maximum(content[first], content[second])
    partners: list[list[int]] = [[] for _ in lines]
    for k in np.lexsort((high, low, -scores, -per_note)).tolist():
        i, j = loose[k].tolist()
        a, b = groups.find(i), groups.find(j)
        if a != b and anchored[a] and anchored[b] and not _another_tune(i, j, partners, lines, clean, rule):
            continue
        for x, y in ((i, j), (j, i)):
            if not clean[x]:
                partners[x].append(y)
        if a != b:
            anchored[groups.union(a, b)] = anchored[a] or anchored[b]
    return groups.labels()


def _another_tune(
    i: int, j: int, partners: list[list[int]], lines: list[np.ndarray], clean: np.ndarray, rule: TuneMatchRule
) -> bool:
    """Whether the pair ``(i, j)`` aligns a performed line on a passage that none of the pieces it has
    joined (its ``partners``) explains (:func:`anchored_components`)."""
    every_key = replace(rule, transpositions=12)
    for x, y in ((i, j), (j, i)):
        if clean[x] or not partners[x]:
            continue
        start, end, _ = alignment_span(lines[x], lines[y], every_key)
        passage = np.asarray(lines[x][start:end])
        # each partner's tune played over as often as the passage needs: a passage across the end of one
        # verse or repeat and the start of the next is the partner's too
        tunes = [np.tile(lines[other], len(passage) // max(len(lines[other]), 1) + 2) for other in partners[x]]
        pairs = np.stack([np.arange(1, len(tunes) + 1), np.zeros(len(tunes), np.int64)], axis=1)
        own = alignment_scores([passage, *tunes], pairs, every_key)
        if not (own >= rule.min_coverage_both * len(passage)).any():
            return True
    return False


# -- candidates ------------------------------------------------------------------------------------------


def gapped_grams(line: np.ndarray, gram: int = 4, window: int = 6) -> np.ndarray:
    """Sorted unique codes of the line's gapped interval ``gram``-grams: for each note, the intervals from
    it to every choice of ``gram`` of the next ``window - 1`` notes (fewer at the end of the line),
    clipped to +-24 semitones. int64 ``(codes,)``; empty for a line of ``gram`` notes or fewer."""
    pitches = np.asarray(line, np.int64)
    if len(pitches) <= gram:
        return np.zeros(0, np.int64)
    end = np.iinfo(np.int64).min  # past the end of the line
    padded = np.concatenate([pitches, np.full(window - gram - 1, end, np.int64)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, window)
    weights = 49 ** np.arange(gram, dtype=np.int64)
    codes = []
    for choice in combinations(range(1, window), gram):
        chosen = windows[:, [0, *choice]]
        inside = (chosen != end).all(axis=1)
        steps = np.clip(np.diff(chosen[inside], axis=1), -24, 24) + 24
        codes.append(steps @ weights)
    return np.unique(np.concatenate(codes))


def candidate_pairs(lines: list[np.ndarray], rule: TuneMatchRule) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, of lines worth aligning (the candidates of the module docstring),
    int64 ``(pairs, 2)``."""
    eligible = [i for i, line in enumerate(lines) if len(line) >= rule.min_notes]
    empty = np.zeros((0, 2), np.int64)
    if len(eligible) < 2:
        return empty
    grams = [gapped_grams(lines[i], rule.gram, rule.window) for i in eligible]
    piece = np.repeat(np.arange(len(eligible)), [len(g) for g in grams])
    codes = np.concatenate(grams)
    order = np.argsort(codes, kind="stable")
    codes, piece = codes[order], piece[order]
    starts = np.flatnonzero(np.append(True, codes[1:] != codes[:-1]))
    df = np.diff(np.append(starts, len(codes)))
    # Smoothed idf (as scikit-learn's smooth_idf): a 4-gram every line has keeps some weight, so in a small
    # collection (three performances of one tune) lines that share only such 4-grams are still similar.
    idf = np.log((1 + len(eligible)) / (1 + df)) + 1 if rule.smooth_idf else np.log(len(eligible) / df)
    weight = np.repeat(idf, df)
    norm = np.sqrt(np.bincount(piece, weights=weight**2, minlength=len(eligible)))
    keys, values = [], []
    for d in range(2, rule.max_df + 1):
        first = starts[df == d]
        if not len(first):
            continue
        members = piece[first[:, None] + np.arange(d)]  # (codes, d), sorted by piece within a code
        i, j = np.triu_indices(d, k=1)
        keys.append((members[:, i] * len(eligible) + members[:, j]).ravel())
        values.append(np.repeat(idf[df == d] ** 2, len(i)))
    if not keys:
        return empty
    pair_keys, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    dot = np.bincount(inverse.ravel(), weights=np.concatenate(values))
    a, b = pair_keys // len(eligible), pair_keys % len(eligible)
    cosine = dot / np.maximum(norm[a] * norm[b], 1e-12)
    good = cosine >= rule.min_cosine
    a, b, cosine = a[good], b[good], cosine[good]
    # each line's `neighbours` best, from both ends of a pair: the rank is the number of strictly more
    # similar lines, so ties at the cut are all in and the candidates do not depend on the pieces' order
    ends = np.concatenate([a, b])
    others = np.concatenate([b, a])
    similarity = np.concatenate([cosine, cosine])
    by_line = np.lexsort((-similarity, ends))
    ends, others, similarity = ends[by_line], others[by_line], similarity[by_line]
    new_line = np.append(True, ends[1:] != ends[:-1])
    new_value = new_line | np.append(True, similarity[1:] != similarity[:-1])
    position = np.arange(len(ends))
    line_start = np.maximum.accumulate(np.where(new_line, position, 0))
    value_start = np.maximum.accumulate(np.where(new_value, position, 0))
    top = value_start - line_start < rule.neighbours
    index = np.asarray(eligible, np.int64)
    near = _lsh_pairs(grams, rule)
    lo = index[np.concatenate([np.minimum(ends[top], others[top]), near[:, 0]])]
    hi = index[np.concatenate([np.maximum(ends[top], others[top]), near[:, 1]])]
    return np.unique(np.stack([lo, hi], axis=1), axis=0)


def _lsh_pairs(grams: list[np.ndarray], rule: TuneMatchRule) -> np.ndarray:
    """Pairs of gram sets sharing a band of ``lsh_rows`` MinHash values (Broder 1997; banding as in
    Leskovec, Rajaraman & Ullman, *Mining of Massive Datasets*, ch. 3): the lines that are nearly the
    same even when all their grams are common ones, which the inverted index skips. With 30 bands of 4
    rows a pair of Jaccard similarity 0.6 is found with probability 0.985, one of 0.1 with 0.003."""
    perms = rule.lsh_bands * rule.lsh_rows
    salts = splitmix64(np.arange(perms, dtype=np.uint64) + np.uint64(rule.seed) * np.uint64(1 << 32))
    signatures = np.full((len(grams), perms), np.iinfo(np.uint64).max, np.uint64)
    for k, codes in enumerate(grams):
        if len(codes):
            signatures[k] = splitmix64(codes.astype(np.uint64)[:, None] ^ salts[None, :]).min(axis=0)
    found = []
    for band in range(rule.lsh_bands):
        keys = np.ascontiguousarray(signatures[:, band * rule.lsh_rows : (band + 1) * rule.lsh_rows])
        _, bucket = np.unique(keys.view(np.dtype((np.void, 8 * rule.lsh_rows))), return_inverse=True)
        bucket = bucket.ravel()
        order = np.argsort(bucket, kind="stable")
        starts = np.flatnonzero(np.append(True, bucket[order][1:] != bucket[order][:-1]))
        sizes = np.diff(np.append(starts, len(order)))
        for start, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(), strict=True):
            members = np.sort(order[start : start + size])
            i, j = np.triu_indices(size, k=1)
            found.append(np.stack([members[i], members[j]], axis=1))
    return np.unique(np.concatenate(found), axis=0) if found else np.zeros((0, 2), np.int64)




DuplicateRule = NearDuplicateRule | TuneMatchRule
"""A near-duplicate grouping rule: version 1 or version 2."""


def duplicate_rule_from_dict(record: dict[str, Any]) -> DuplicateRule:
    """The rule a manifest's ``duplicate_rule`` records: version 2 when it says so, else version 1 (whose
    records have no ``version``).

    Raises:
        TypeError, ValueError: the record names parameters the rule does not have, or bad values.
    """
    if record.get("version") == RULE_VERSION:
        return TuneMatchRule.from_dict(record)
    return NearDuplicateRule(**record)


def record_fingerprint(rule: DuplicateRule, record: dict[str, Any]) -> np.ndarray | TuneFingerprint:
    """A rule's fingerprint of a dataset build's piece record, from the lines the build stored in it:
    ``melody`` (the score skyline), and for version 2 ``tune`` and ``tune_clean``.

    Raises:
        KeyError: the record lacks a line the rule needs.
    """
    melody = np.asarray(record["melody"], np.int16)
    if isinstance(rule, TuneMatchRule):
        return rule.fingerprint_of(melody, np.asarray(record["tune"], np.int16), bool(record["tune_clean"]))
    return rule.fingerprint(melody)
