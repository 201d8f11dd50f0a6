"""The statistics a held-out reviewer checked: a plain MIDI control folder's pieces had no tune group, so
ten variants of one folk tune were resampled and tested as ten independent pieces while the page said
the intervals resampled tune groups (they are now grouped among themselves by the near-duplicate rule of
dataset splits); the verdict's wording; the page's caveat on one-bar recombination."""

from __future__ import annotations

import numpy as np

from remixmusic.music.notes import Piece
from remixmusic.novelty.analyze import analyze
from remixmusic.novelty.groups import INFERRED, inferred_tune_groups
from remixmusic.novelty.index import Index
from tests.test_match import _melody
from tests.test_passages_counts import reference  # noqa: F401  (the fixture)
from tests.test_passages_repeats import _rows, _tune


def _variants(piece: Piece, n: int, rng: np.random.Generator) -> list[Piece]:
    """``n`` versions of a tune: one note moved a step, transposed, named v0.mid ..."""
    rows = _rows(_melody(piece)[:40])
    out = []
    for k in range(n):
        changed = list(rows)
        at = int(rng.integers(len(changed)))
        changed[at] = (changed[at][0] + int(rng.choice([-2, 2])), changed[at][1])
        shift = int(rng.integers(-5, 6))
        out.append(_tune([(p + shift, d) for p, d in changed], f"v{k}.mid"))
    return out


def test_variants_of_one_tune_are_one_group_and_others_their_own(reference):  # noqa: F811
    rng = np.random.default_rng(0)
    tunes = [p for p in reference if len(_melody(p)) >= 40]
    family = _variants(tunes[0], 5, rng)
    others = [_tune(_rows(_melody(p)[:40]), f"o{k}.mid") for k, p in enumerate(tunes[1:6])]
    pieces = family + others
    names = [p.source for p in pieces]
    labels = inferred_tune_groups(pieces, names, [""] * len(pieces))
    assert labels[:5] == [INFERRED + "v0.mid"] * 5
    assert labels[5:] == [""] * 5
    known = ["a", "a", "", "", "", "", "", "", "", ""]  # a manifest's labels are kept
    assert inferred_tune_groups(pieces, names, known)[:2] == ["a", "a"]


def test_a_control_folder_is_resampled_by_the_groups_found(reference):  # noqa: F811
    rng = np.random.default_rng(1)
    tunes = [p for p in reference if len(_melody(p)) >= 40]
    control = _variants(tunes[0], 4, rng) + [_tune(_rows(_melody(p)[:40]), f"o{k}.mid") for k, p in enumerate(tunes[1:5])]
    query = [_tune(_rows(_melody(p)[:40]), f"q{k}.mid") for k, p in enumerate(tunes[5:9])]
    report = analyze(
        query, Index.build(tunes[9:]), control=control, jobs=1, show_progress=False, originality=False
    )
    groups = {r.piece: r.tune_group for r in report.piece_records if r.group == "control"}
    assert {groups[f"v{k}.mid"] for k in range(4)} == {INFERRED + "v0.mid"}
    assert {groups[f"o{k}.mid"] for k in range(4)} == {""}


def _comparison(p: float, magnitude: str, delta: float):
    from remixmusic.evaluation.significance import Comparison

    return Comparison(
        "recombined_fraction", "primary", 20, 20, 20, 20, 0.2, (0.1, 0.3), 0.1, (0.05, 0.2), 1.0, p, p, "none",
        delta, magnitude, "",
    )


def test_the_verdict_says_each_case_once():
    """A reviewer read "the difference is not clear and could be chance ... could well be chance" for a
    non-significant result, and the same "not clear" for a significant but negligible one."""
    from remixmusic.novelty.page.words import verdict_words

    unclear = verdict_words(_comparison(0.3, "small", 0.2), True)
    assert "no clear difference" in unclear and unclear.count("chance") == 1
    negligible = verdict_words(_comparison(0.01, "negligible", 0.1), True)
    assert "negligible difference" in negligible and "unlikely to be chance" in negligible
    assert "clearly more" in verdict_words(_comparison(0.001, "large", 0.6), True)


def test_the_page_says_when_one_bar_recombination_cannot_be_judged(monkeypatch):
    """When most human control notes already lie in one-bar shared stretches, one-bar recombination
    cannot be told from human music: the page says so beside the headline."""
    from remixmusic.novelty.page import words

    shares = {"query": (0.8, (0.7, 0.9)), "control": (0.85, (0.8, 0.9))}
    monkeypatch.setattr(words, "bar_shares", lambda report: shares)
    assert "cannot be told from human music" in words.bar_stretch_text(None)  # type: ignore[arg-type]
    shares["control"] = (0.2, (0.1, 0.3))
    assert "cannot be told" not in words.bar_stretch_text(None)  # type: ignore[arg-type]


def test_a_reference_folder_counts_versions_of_one_tune_once(reference):  # noqa: F811
    """Doc frequency is counted in tune groups; a reference read from a folder (no manifest) had every
    piece its own group, so three versions of one tune made its phrases three times as common (and
    nearer to stock). They are one group, found by the near-duplicate rule."""
    rng = np.random.default_rng(2)
    tunes = [p for p in reference if len(_melody(p)) >= 40]
    family = _variants(tunes[0], 3, rng)
    index = Index.build([*family, *tunes[1:]])
    assert index.piece_groups[:3] == [INFERRED + "v0.mid"] * 3
    assert len(set(index.piece_group[:3].tolist())) == 1
    report = analyze([family[0]], index, jobs=1, show_progress=False, originality=False)
    copied = [p for p in report.passage_records if p.label == "copied"]
    assert copied and all(p.doc_freq == 1 for p in copied)


def test_groups_whose_first_pieces_share_a_name_keep_apart(reference):  # noqa: F811
    """A reference folder a/x.mid, a/y.mid (one tune) and b/x.mid, b/y.mid (another): both groups were
    labelled "~x.mid", so the two tunes counted as one in document frequency (a code reviewer's find)."""
    rng = np.random.default_rng(3)
    tunes = [p for p in reference if len(_melody(p)) >= 40]
    one, two = _variants(tunes[0], 2, rng), _variants(tunes[1], 2, rng)
    labels = inferred_tune_groups([*one, *two], ["x.mid", "y.mid", "x.mid", "y.mid"], [""] * 4)
    assert labels[0] == labels[1] and labels[2] == labels[3] and labels[0] != labels[2]
