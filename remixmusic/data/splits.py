"""Near-duplicate tune groups and leak-free train/valid/test splits.

A corpus holds the same tune more than once: Bach harmonized many chorale melodies several times, folk
collections print variants of one tune, O'Neill's repeats tunes across overlapping files, a performance
collection holds several performances of one score. If one copy lands in training and another in test, a
model that memorized the first looks "novel" or "good" on the second. So we group near-duplicates first
and split whole groups.

Two versions of the rule exist; a manifest records which one grouped it (``duplicate_rule``; version 1's
record has no ``version`` key), and loading a dataset never regroups it. Version 2
(:class:`remixmusic.data.tune_match.TuneMatchRule`), the default of new builds and imports, keeps version
1's relation and adds one that holds for unquantized performances and re-voiced arrangements (timing,
ornaments, accompaniment); on score corpora (monophonic, quantized melody lines) it groups exactly as
version 1, and a performance joins at most one of the tunes version 1 keeps apart, unless it plays
both (a medley, a quodlibet; :func:`remixmusic.data.tune_match.anchored_components`). Version 1, below,
is unchanged. (The committed ``bach-chorales`` manifest predates
:func:`melody_line` taking a part named Soprano; regrouped today, version 1 and version 2 alike give 64
multi-piece groups where it records 60, which is one more reason a loaded manifest is kept as it is.)

The version 1 rule ("same tune"), :class:`NearDuplicateRule`:

1. the *melody line* of a piece is its skyline: the notes that are the highest sounding (non-drum)
   pitch when they start, one per onset (see :func:`melody_line`);
2. repeated pitches are dropped (so splitting or tying notes, a frequent difference between variants,
   does not matter) and the line becomes pitch intervals, which makes it transposition invariant;
3. its fingerprint is the set of interval n-grams (default n = 5, i.e. six-note shapes);
4. two pieces are near-duplicates when the Jaccard similarity of their fingerprints is at least
   ``threshold`` (both must have at least ``min_ngrams`` n-grams, so two very short tunes never match
   by accident); groups are the connected components (union-find) of that relation.

Candidate pairs are found with MinHash signatures and banded locality-sensitive hashing (Broder 1997,
"On the resemblance and containment of documents"; banding as in Leskovec, Rajaraman & Ullman, *Mining
of Massive Datasets*, ch. 3), then every candidate is checked with the exact Jaccard similarity, so the
rule decides, the sketch only prunes. With 60 bands of 2 rows a pair at the default threshold 0.3 is a
candidate with probability 0.996, and a pair at 0.4 with probability 0.99997.

The threshold 0.3 was chosen on music21's Bach chorales: the Jaccard values of all pairs fall into a bulk
below 0.25 and a tail of pairs that share a melody (the same hymn tune under two texts included, such as
"Herzlich tut mich verlangen" / "O Haupt voll Blut und Wunden", or the "Innsbruck" tune under "O Welt,
sieh hier dein Leben" and "Nun ruhen alle Wälder"); 0.3 groups 186 of 349 chorales into 60 groups.

Splits (:class:`SplitRule`) hash each group's key (its smallest piece id) with a salt into [0, 1) and
cut that interval by the split fractions: deterministic, independent of order and of the other groups,
and a group never straddles two splits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from remixmusic._util.arrays import splitmix64
from remixmusic.music.lines import melody_line
from remixmusic.music.notes import Piece

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def interval_ngrams(melody: np.ndarray, n: int) -> np.ndarray:
    """Sorted unique codes of the melody's pitch-interval n-grams (repeated pitches dropped).

    Each interval is clipped to +-127 and stored in one byte, so an n-gram (n <= 8) is packed exactly
    into a 64-bit code: no hash collisions.
    """
    if not 1 <= n <= 8:
        raise ValueError("n must be between 1 and 8")
    melody = np.asarray(melody, np.int64)
    intervals = np.diff(melody)
    intervals = intervals[intervals != 0]
    if len(intervals) < n:
        return np.zeros(0, np.uint64)
    codes = (np.clip(intervals, -127, 127) + 128).astype(np.uint64)
    windows = np.lib.stride_tricks.sliding_window_view(codes, n)
    shifts = (np.arange(n, dtype=np.uint64) * np.uint64(8))[None, :]
    return np.unique(np.bitwise_or.reduce(windows << shifts, axis=1))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two sorted unique code arrays."""
    if not len(a) and not len(b):
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


@dataclass(frozen=True)
class NearDuplicateRule:
    """Which pieces are the same tune (see the module docstring for the rule and its method)."""

    n: int = 5
    threshold: float = 0.3
    min_ngrams: int = 8
    num_perm: int = 120
    bands: int = 60
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_perm % self.bands:
            raise ValueError("num_perm must be a multiple of bands")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fingerprint(self, piece_or_melody: Piece | np.ndarray) -> np.ndarray:
        melody = melody_line(piece_or_melody) if isinstance(piece_or_melody, Piece) else piece_or_melody
        return interval_ngrams(melody, self.n)

    def signatures(self, fingerprints: list[np.ndarray]) -> np.ndarray:
        """MinHash signatures, shape (pieces, num_perm); an empty set gets the all-ones signature."""
        salts = splitmix64(
            np.arange(self.num_perm, dtype=np.uint64) + np.uint64(self.seed) * np.uint64(1 << 32)
        )
        out = np.full((len(fingerprints), self.num_perm), _MASK64, dtype=np.uint64)
        for i, codes in enumerate(fingerprints):
            if len(codes):
                out[i] = splitmix64(codes[:, None] ^ salts[None, :]).min(axis=0)
        return out

    def candidate_pairs(self, fingerprints: list[np.ndarray]) -> np.ndarray:
        """Pairs (i < j) that share at least one LSH band, shape (pairs, 2)."""
        eligible = np.array([len(f) >= self.min_ngrams for f in fingerprints], bool)
        index = np.nonzero(eligible)[0]
        if len(index) < 2:
            return np.zeros((0, 2), np.int64)
        signatures = self.signatures([fingerprints[i] for i in index])
        rows = self.num_perm // self.bands
        pairs: list[np.ndarray] = []
        for band in range(self.bands):
            keys = np.ascontiguousarray(signatures[:, band * rows : (band + 1) * rows])
            _, bucket = np.unique(
                keys.view(np.dtype((np.void, keys.dtype.itemsize * rows))), return_inverse=True
            )
            bucket = bucket.ravel()
            order = np.argsort(bucket, kind="stable")
            sorted_bucket = bucket[order]
            starts = np.nonzero(np.append(True, sorted_bucket[1:] != sorted_bucket[:-1]))[0]
            sizes = np.diff(np.append(starts, len(order)))
            for start, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(), strict=True):
                members = index[np.sort(order[start : start + size])]
                i, j = np.triu_indices(size, k=1)
                pairs.append(np.stack([members[i], members[j]], axis=1))
        if not pairs:
            return np.zeros((0, 2), np.int64)
        return np.unique(np.concatenate(pairs), axis=0)

    def identity(self, fingerprint: np.ndarray) -> bytes | None:
        """A key equal for equal fingerprints that this rule groups with themselves (enough n-grams);
        ``None`` for those it never groups (:func:`group_and_split` merges equal keys before searching)."""
        return fingerprint.tobytes() if len(fingerprint) >= self.min_ngrams else None

    def groups(self, fingerprints: list[np.ndarray]) -> np.ndarray:
        """Group label of each piece: the index of the first piece of its near-duplicate group."""
        parent = np.arange(len(fingerprints))

        def find(i: int) -> int:
            root = i
            while parent[root] != root:
                root = parent[root]
            while parent[i] != root:
                parent[i], i = root, parent[i]
            return root

        for i, j in self.candidate_pairs(fingerprints).tolist():
            if jaccard(fingerprints[i], fingerprints[j]) >= self.threshold:
                a, b = find(i), find(j)
                parent[max(a, b)] = min(a, b)
        return np.array([find(i) for i in range(len(fingerprints))], dtype=np.int64)


@dataclass(frozen=True)
class SplitRule:
    """Whole groups to splits by a salted hash of the group key (see the module docstring)."""

    names: tuple[str, ...] = ("train", "valid", "test")
    fractions: tuple[float, ...] = (0.8, 0.1, 0.1)
    salt: str = "remixmusic-split-v1"
    _edges: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.names) != len(self.fractions) or abs(sum(self.fractions) - 1.0) > 1e-9:
            raise ValueError("split fractions must match the names and sum to 1")
        object.__setattr__(self, "_edges", np.cumsum(self.fractions)[:-1])

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "fractions": list(self.fractions), "salt": self.salt}

    def split_of(self, group_key: str) -> str:
        digest = hashlib.sha256(f"{self.salt}\0{group_key}".encode("utf-8", "surrogateescape")).digest()
        u = int.from_bytes(digest[:8], "big") / 2.0**64
        return self.names[int(np.searchsorted(self._edges, u, side="right"))]


@dataclass
class Grouping:
    """Near-duplicate groups and splits of a list of pieces, identified by their ids."""

    group: list[str]  # per piece: the group key (smallest id in the group)
    split: list[str]  # per piece

    @property
    def n_groups(self) -> int:
        return len(set(self.group))

    def multi_piece_groups(self) -> dict[str, int]:
        """Group key -> size, for groups with more than one piece."""
        keys, counts = np.unique(np.array(self.group, dtype=object), return_counts=True)
        return {str(k): int(c) for k, c in zip(keys, counts, strict=True) if c > 1}


class GroupingRule(Protocol):
    """What :func:`group_and_split` needs of a near-duplicate rule: a group label per fingerprint."""

    def groups(self, fingerprints: Any) -> np.ndarray: ...

    def identity(self, fingerprint: Any) -> bytes | None: ...


def group_and_split(
    ids: list[str],
    fingerprints: Sequence[Any],
    rule: GroupingRule | None = None,
    split_rule: SplitRule | None = None,
) -> Grouping:
    """Group ``ids`` by the near-duplicate rule (default version 1, :class:`NearDuplicateRule`; its
    fingerprints must match the rule), then assign each whole group to one split."""
    rule = rule or NearDuplicateRule()
    split_rule = split_rule or SplitRule()
    labels = _groups_of_distinct(rule, list(fingerprints))
    key_of_label: dict[int, str] = {}
    for label, piece_id in zip(labels.tolist(), ids, strict=True):
        key_of_label[label] = min(piece_id, key_of_label.get(label, piece_id))
    group = [key_of_label[label] for label in labels.tolist()]
    return Grouping(group=group, split=[split_rule.split_of(key) for key in group])


def _groups_of_distinct(rule: GroupingRule, fingerprints: list[Any]) -> np.ndarray:
    """``rule.groups`` computed once per distinct fingerprint: pieces with one fingerprint (the same file
    imported many times, as collections hold) are one group without a pair search among them, whose cost
    grows with the square of their number (2,000 copies of one file took 175 s and 6 GB). Only
    fingerprints the rule groups with themselves (``rule.identity``) are merged, so identical one-note
    files stay apart as the rule keeps them."""
    first: dict[bytes, int] = {}
    keep: list[int] = []
    of = np.arange(len(fingerprints))
    for i, f in enumerate(fingerprints):
        key = rule.identity(f)
        if key is None:
            keep.append(i)
        elif key in first:
            of[i] = first[key]
        else:
            first[key] = i
            keep.append(i)
    if len(keep) == len(fingerprints):
        return rule.groups(fingerprints)
    labels = rule.groups([fingerprints[i] for i in keep])
    rep = np.empty(len(fingerprints), np.int64)
    rep[keep] = np.asarray(keep)[labels]  # each kept piece's label, as a piece index
    return rep[of]
