"""The experiment's design, fixed in code before any result: conditions, measures, questions and their
decision rules.

Three questions of the "deep retrieval and remixing" hypothesis (generative models write good output
mainly by retrieving and recombining parts of their training data; music should be a domain where this
works especially well), each answered by one verdict that names the granularity it speaks for:

1. **How much, and at what granularity**, does the transformer's output recombine training material,
   compared with held-out human music of the same tradition and with pure-recombination models of known
   granularity? (:data:`RULES_Q1`)
2. **Does quality go with remixing?** Across the sampling settings and the training snapshots, is the
   output judged better also the output that recombines more? (:data:`RULES_Q2`)
3. **When does a model start to copy?** Copying against training step, model size and training-set size,
   next to the train-validation gap. (:data:`RULES_Q3`)
"""

from __future__ import annotations

from collections.abc import Callable

SCHEMA_VERSION = 2

Log = Callable[[str], None]


# -- conditions ---------------------------------------------------------------------------------------
HUMAN = "human"
"""The held-out test split (whole tune groups never seen in training), cut to ``bars`` bars, less the
pieces the analyser's leakage check finds duplicated in training."""

SHUFFLED = "human-shuffled"
"""Chance: every human piece with the pitches of each track permuted (rhythm and pitch content kept, the
order destroyed): the negative control."""

NGRAM = "ngram"
"""The interpolated Kneser-Ney n-gram of the training split (order chosen on valid): smoothed
short-context recombination."""

PROMPTED_MODEL = "prompted-transformer"
PROMPTED_HUMAN = "prompted-human"
"""Prompted continuations (RAVEN, McCoy et al. 2023): the first ``prompt_bars`` bars of held-out pieces,
continued by the transformer and by their human composer; only the continuations are analysed."""


def patchwork(bars: int) -> str:
    """A pure-recombination control: pieces made of ``bars``-bar chunks of training pieces."""
    return f"patchwork-{bars}bar"


def infinigram(context: int) -> str:
    """A pure-recombination control: the ∞-gram (Liu et al. 2024) with ``context`` tokens (0 unbounded)."""
    return f"infinigram-{context if context else 'max'}"


def transformer(temperature: float, top_p: float) -> str:
    """The transformer sampled at one setting."""
    return f"transformer-T{temperature:g}-p{top_p:g}"


def snapshot(run: str, step: int, temperature: float = 1.0) -> str:
    """A training run's snapshot sampled at ``temperature`` (named without it at temperature 1)."""
    return f"{run}-step{step}" if temperature == 1 else f"{run}-step{step}-T{temperature:g}"


def curve(run: str, temperature: float = 1.0) -> str:
    """One memorisation curve of question 3: a training run's snapshots sampled at one temperature."""
    return run if temperature == 1 else f"{run}{_AT}{temperature:g}"


_AT = " at T="


def curve_parts(name: str) -> tuple[str, str]:
    """Inverse of :func:`curve`: ``(run, temperature as written)``, the temperature "1" when unnamed."""
    run, _, temperature = name.partition(_AT)
    return run, temperature or "1"


MAIN_SETTING = (1.0, 1.0)
"""The transformer setting question 1 is decided on: plain sampling (temperature 1, no truncation), the
distribution the model learned."""


# -- measures -----------------------------------------------------------------------------------------
MEASURES = (
    (
        "recombined_fraction",
        "recombined fraction",
        "share of notes in above-chance copied or varied passages",
    ),
    ("copied_coverage", "copied coverage", "share of notes inside an above-chance exact copy"),
    (
        "granularity_share",
        "recombined at >= 1 bar",
        "share of notes recombined at one bar or more, against the piece's own shuffles",
    ),
    ("granularity_bars", "granularity (bars)", "granularity of the recombined part, on the patchwork scale"),
    (
        "span_coverage_1",
        "covered by >= 1-bar matches",
        "share of notes inside an exact match spanning at least 1 bar",
    ),
    (
        "span_coverage_2",
        "covered by >= 2-bar matches",
        "share of notes inside an exact match spanning at least 2 bars",
    ),
    (
        "span_coverage_4",
        "covered by >= 4-bar matches",
        "share of notes inside an exact match spanning at least 4 bars",
    ),
    ("longest_copied_notes", "longest copy (notes)", "longest above-chance exact copy"),
    ("fan_in", "fan-in", "distinct training pieces among the recombined passages"),
)
"""Per-piece recombination measures (analysis record column, display name, meaning), all from the
passage-level analyser (:mod:`remixmusic.novelty`)."""

QUALITY = (
    (
        "c2st_accuracy",
        "classifier two-sample accuracy",
        "how well a k-NN on descriptors and melodic order features tells the pieces from human ones "
        "(0.5 = indistinguishable)",
    ),
    (
        "descriptor_overlap",
        "descriptor overlap",
        "mean overlapping area of descriptor distributions with the human pieces (1 = same)",
    ),
    (
        "judge_bits_per_note",
        "judge bits per note",
        "bits per note under a KN 3-gram fitted on the valid split (lower = more typical)",
    ),
)
"""Per-condition quality measures (name, display name, meaning)."""


def span_measure(bars: int) -> str:
    """The span-coverage column that reads recombination at ``bars`` bars (1, 2 or 4), else the
    granularity share (recombination at one bar or more)."""
    return f"span_coverage_{bars}" if bars in (1, 2, 4) else "granularity_share"


# -- questions and rules --------------------------------------------------------------------------------
Q1_MEASURE = "span_coverage_{b}"
"""Question 1, per granularity ``b`` of ``patchwork_bars``: the share of notes inside exact matches that
span at least ``b`` bars (:func:`span_measure`), the transformer at :data:`MAIN_SETTING` against the
human control, the ``b``-bar patchwork being that granularity's positive control."""

RULES_Q1 = (
    (
        "n",
        "inconclusive (n too small) when the transformer, the human control or the patchwork has fewer than min_pieces pieces",
    ),
    (
        "control",
        "no verdict at b bars (the analyser does not register recombination there) when the b-bar patchwork is not significantly above the human control",
    ),
    (
        "more",
        "recombines more than human music at b bars when the transformer is significantly above the human control (Holm over the granularities, non-negligible Cliff's delta)",
    ),
    ("less", "recombines less than human music at b bars when significantly below"),
    ("like", "recombines like human music at b bars otherwise"),
)
"""Per granularity; the headline names every granularity where the transformer recombines more, or says
it does so at none where the analyser registers recombination (or that it registers it nowhere)."""

Q2_RECOMBINATION = "granularity_share"
Q2_QUALITY = "c2st_accuracy"
"""Question 2 across settings (every sampling setting of the main transformer and every training
snapshot): Spearman's rho between a setting's mean share of notes recombined at one bar or more and its
quality, ``1 - 2 |accuracy - 0.5|`` of the classifier two-sample test (Lopez-Paz & Oquab 2017), with a
bootstrap interval over settings."""

RULES_Q2 = (
    ("n", "inconclusive (too few settings) when fewer than min_settings settings have both values"),
    ("yes", "quality goes with remixing when the 95% interval of rho lies above 0"),
    ("opposite", "quality goes against remixing when the interval lies below 0"),
    ("no", "no association detected when the interval contains 0"),
)

Q3_MEASURE = "copied_coverage"
"""Question 3 per memorisation curve (a training run's snapshots sampled at one of the snapshot
temperatures): above-chance exact copying of each snapshot's samples against the human control; the *onset* is the first snapshot significantly above it (one-sided Mann-Whitney on tune-group
means, Holm over the run's snapshots, Cliff's delta at least small)."""

RULES_Q3 = (
    ("n", "inconclusive when no run has at least 4 snapshots with min_pieces pieces each"),
    (
        "copies",
        "the model starts to copy when at least one run has an onset; the verdict names each run's onset step, its train-valid gap there and whether it comes after the best validation step",
    ),
    ("no", "no copying within the trained steps otherwise"),
)

GROUP_COLORS = {
    "transformer": "#D55E00",
    "snapshot": "#CC79A7",
    "infinigram": "#0072B2",
    "patchwork": "#56B4E9",
    "ngram": "#009E73",
    "human": "#000000",
    "shuffled": "#999999",
    "prompted": "#E69F00",
}
"""Okabe-Ito colours (colour-blind safe) per condition family."""


def family(condition: str) -> str:
    """The family of a condition name (a key of :data:`GROUP_COLORS`)."""
    if condition.startswith("prompted"):
        return "prompted"
    if condition == SHUFFLED:
        return "shuffled"
    if "-step" in condition:
        return "snapshot"
    for name in ("transformer", "infinigram", "patchwork", "ngram", "human"):
        if condition.startswith(name):
            return name
    return "snapshot"
