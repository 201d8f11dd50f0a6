"""The experiment's design, fixed before any result: groups, compared pairs, measures, the primary measure and the decision rules.
"""

from __future__ import annotations

from collections.abc import Callable

from remixmusic.novelty.report import PRIMARY_MEASURE

SCHEMA_VERSION = 1


GROUPS = ("transformer", "infinigram", "ngram", "human")


MODELS = GROUPS[:3]


CONTROL = "infinigram"
"""The pure-recombination positive control and the 1 of every position."""


PAIRS = (
    ("transformer", "human"),
    ("infinigram", "human"),
    ("ngram", "human"),
    ("transformer", "infinigram"),
    ("transformer", "ngram"),
)


LABELS = {"transformer": "transformer", "infinigram": "∞-gram", "ngram": "KN n-gram", "human": "human"}


GROUP_COLORS = {"transformer": "#d62728", "infinigram": "#9467bd", "ngram": "#2ca02c", "human": "#1f77b4"}


DEFAULT_INFINIGRAM_CONTEXT = 16
"""Tokens of context the experiment's ∞-gram uses at most: about two four-voice chords in REMI
(``Position`` + 4 x ``Pitch Duration``), so it can jump to another training passage wherever two chords
recur. Unbounded, it replays one training piece to its end (fan-in 1.0 against 2.0 at 16 tokens over 8
pieces of 16 bars; copied coverage 1.0 both)."""


MEASURES = (
    ("copied_coverage", "copied coverage", "share of notes in above-chance rare exact matches"),
    ("recombined_fraction", "recombined fraction", "share of notes copied or varied"),
    ("varied_fraction", "varied fraction", "share of notes in varied copies"),
    ("novel_fraction", "novel fraction", "share of notes that are novel glue"),
    ("longest_copied_notes", "longest copied span", "longest rare exact match (notes)"),
    ("fan_in", "fan-in", "distinct reference pieces among recombined passages"),
    ("originality", "originality", "mean originality score (Yin et al.)"),
)
"""Per-piece measures (analysis record key, display name, meaning) compared between the groups."""


PRIMARY = PRIMARY_MEASURE
"""The measure the verdict's rules are decided on (the analysis report's primary measure): tested at
alpha as is. For each pair of :data:`PAIRS` the other measures of :data:`MEASURES` are secondary, their
p-values Holm-adjusted among themselves (Holm 1979); they are reported, never decided on. The two
primary tests the rules read (transformer vs human, ∞-gram vs human) play different parts, the claim
and the positive control, so neither is corrected for the other."""


RULES = (
    ("n", "inconclusive (n too small) when a group has fewer than min_pieces pieces with a value"),
    (
        "recombination",
        "supported when the transformer is higher than the human control and its descriptor overlap with the "
        "human pieces is larger than the ∞-gram's (it recombines, and writes more human-like music than pure "
        "recombination does)",
    ),
    (
        "quality",
        "partly supported when the transformer is higher than the human control but not closer to the human "
        "descriptors than the ∞-gram",
    ),
    (
        "positive control",
        "inconclusive (positive control failed) when the transformer is not higher and neither is the ∞-gram "
        "(pure recombination): if it does not register as recombination, the analysis may miss the "
        "transformer's too, so no recombination found is no evidence against it",
    ),
    (
        "otherwise",
        "not supported otherwise: with enough pieces, the transformer does not recombine more training "
        "phrases than held-out human music, while the analysis does register the ∞-gram's recombination",
    ),
)
"""The verdict's decision rules (name, statement), applied in order on :data:`PRIMARY`."""


COMPARISON_COLUMNS = (
    "measure",
    "group_a",
    "group_b",
    "n_a",
    "n_b",
    "mean_a",
    "ci_a_low",
    "ci_a_high",
    "mean_b",
    "ci_b_low",
    "ci_b_high",
    "p_value",
    "p_adjusted",
    "cliffs_delta",
    "magnitude",
    "role",
    "n_groups_a",
    "n_groups_b",
)
"""The columns of ``comparison.csv``: ``n_*`` pieces and ``n_groups_*`` tune groups (the units of the
test; a generated piece is its own group), means with cluster-bootstrap intervals, the Mann-Whitney p
on group means unadjusted (``p_value``) and Holm-adjusted for a secondary measure (``p_adjusted``; equal
for the primary), Cliff's delta on group means, and ``role`` (primary or secondary)."""


Log = Callable[[str], None]
