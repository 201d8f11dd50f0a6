"""Folk-variant benchmark: is a held-out tune's top source one of its own variants?

A folk tune's variants (the same song sung in other villages, printed in other collections) differ by
ornaments, passing notes, changed rhythms and changed phrases: exactly what varied copies are for. With
variant annotations, each held-out tune of a variant group is analysed against the training split, and
its *top source* (the reference piece with the most query notes in copied and varied passages, by each
passage's first source) should lie in its own group.

Annotation: the Essen Folk Song Collection (EsAC) numbers the variants of one song with one catalogue
signature and a letter (``N: A0004A``, ``A0004B``, ``A0004C`` in music21's ``essenFolksong`` ABC files):
398 such groups, 1,606 tunes. They are *song* variants, the melodies the editors printed for one song
(Erk, Böhme and the ballad collections), which are mostly but not always one tune family; they are the
best annotation these corpora carry (the dataset manifest's near-duplicate groups are kept inside one
split, so they never pair a held-out tune with a training one, and O'Neill's 1850 has no variant
annotation). Queries: tunes of the ``test`` (and ``valid``, with ``--splits``) split whose group has a
member in ``train``.

Second annotation, ``--titles``: *title families*, the tunes that share a normalized title (``The
Blackbird``; ``Fisher's Hornpipe`` and ``Fisher's Hornpipe (2nd setting)``), on any built corpus. The
corpus is cut into ``--folds`` random folds (not by near-duplicate group, so a family spans folds); each
fold's tunes with a family member in another fold are analysed against an index of the other folds.
A title is a weak annotation (songs share titles across unrelated melodies, tunes travel under several
names), so the benchmark also reports the tunes whose family holds a member the tune-level alignment of
the near-duplicate rule finds related (:class:`remixmusic.data.tune_match.TuneMatchRule`: pitch-class
Smith-Waterman above its chance bound), an independent test that a variant is recognisable at all, and
the top-source rate among them.

    python benchmarks/folk_variants.py                       # essen test split
    python benchmarks/folk_variants.py --splits test valid --match max_chains=256
    python benchmarks/folk_variants.py --titles --dataset oneills

Results (2026-12-01, MATCHER_VERSION 6, after an exact passage's sources were ordered by how much of the
piece each explains): title families, 5 folds: O'Neill's 0.745 of 372 tunes (277), 252 of the 254 with a
related family member (0.992), the other 2 a recognisable variant under another title (1.000); Essen 0.228
of 2,475 (565), 386 of the 509 with a related family member (0.758), and 83 more a recognisable variant
under another title: 0.921.

Results (2026-11-30, default settings): EsAC lettered groups, Essen test split: top source in own group
for 0.080 of 138 tunes. Title families, 5 folds: O'Neill's 0.739 of 372 tunes; 254 have a family member
the tune alignment finds related, and 251 of them (0.988) have their top source in the family (of the
118 tunes without one, tune alignment finds no family member related: a shared title, not a shared tune). Essen
0.227 of 2,475 tunes (titles are song texts, sung to many melodies); 492 have a related family member,
373 of them (0.758) have their top source in the family, and of the remaining 119 the top source is itself
a tune the alignment finds related for 79 (a variant printed under another title): the top source is a
recognisable variant for 452 of the 492 (0.919). The 40 left are mostly variants whose rhythm differs
throughout (the same pitches in other note values, another meter), which copies on onsets cannot follow.
With ``--invariance intervals`` (pitch intervals alone): O'Neill's 253 of the 254 (0.996); Essen 374
in the family and 98 more a variant under another title: 472 of the 492 (0.959).
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

from remixmusic.data.datasets import load_dataset
from remixmusic.novelty.analyze import analyze
from remixmusic.novelty.index import Index

_SIGNATURE = re.compile(r"^N:\s*([A-Z]+\d+)([A-Z])\s*$", re.M)


def esac_groups(abc_files: dict[str, Path]) -> dict[tuple[str, int], str]:
    """Variant group of each lettered tune: ``(ABC file as the manifest names it, tune index) -> group``,
    the group being the collection (the file name without its trailing number) and the signature without
    its letter. Tunes with no lettered signature are left out."""
    out: dict[tuple[str, int], str] = {}
    for name, path in abc_files.items():
        collection = re.sub(r"\d+$", "", Path(name).stem)
        records = [r for r in re.split(r"\n(?=X:)", path.read_text(encoding="latin-1")) if r.lstrip().startswith("X:")]
        for k, record in enumerate(records, start=1):
            m = _SIGNATURE.search(record)
            if m:
                out[(name, k)] = f"{collection}/{m.group(1)}"
    return out


def _music21_abc(files: set[str]) -> dict[str, Path]:
    from music21 import corpus

    by_tail = {"/".join(Path(p).parts[-2:]): Path(p) for p in corpus.getPaths()}
    return {f: by_tail[f] for f in files if f in by_tail}


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


_SETTING = re.compile(r"\((.*?)\)|\b(\d+(st|nd|rd|th)|first|second|third|another)\s+(setting|version)\b|\bsetting\b")


def title_family(title: str) -> str:
    """A tune's title family key: lower case, words only, without parentheses and setting numbers."""
    return re.sub(r"\W+", " ", _SETTING.sub(" ", (title or "").lower())).strip()


def top_sources(pieces: list, index: Index, overrides: dict[str, Any]) -> list[str]:
    """Each piece's top source: the reference piece with the most of its notes in copied and varied
    passages (by each passage's first source); ``""`` when it has none."""
    report = analyze(pieces, index, originality=False, jobs=1, show_progress=False, **overrides)
    order = {r.piece: k for k, r in enumerate(report.query_records())}
    notes: list[Counter[str]] = [Counter() for _ in pieces]
    for p in report.passage_records:
        if p.label in ("copied", "varied") and p.source_names:
            notes[order[p.piece]][p.source_names[0]] += len(p.notes)
    return [max(c.items(), key=lambda kv: (kv[1], kv[0]))[0] if c else "" for c in notes]


def title_families(dataset: str, folds: int, overrides: dict[str, Any], invariance: str) -> None:
    """The ``--titles`` benchmark (module docstring)."""
    import numpy as np

    from remixmusic.data.tune_align import alignment_scores
    from remixmusic.data.tune_match import TuneMatchRule
    from remixmusic.music.tune_line import tune

    ds = load_dataset(dataset)
    family = {Path(r["file"]).stem: title_family(r.get("title") or "") for r in ds.records()}
    pieces = ds.pieces()
    stem = [Path(p.source or "").stem for p in pieces]
    rule = TuneMatchRule()
    lines = [tune(p, rule.line).pitches for p in pieces]
    fold = np.random.default_rng(0).integers(folds, size=len(pieces))
    members: dict[str, list[int]] = {}
    for i, s in enumerate(stem):
        members.setdefault(family[s], []).append(i)
    n = hits = n_related = hits_related = other_variant = 0
    index_of = {s: i for i, s in enumerate(stem)}
    t = time.perf_counter()
    for k in range(folds):
        ref = [i for i in range(len(pieces)) if fold[i] != k]
        queries = [
            i for i in range(len(pieces))
            if fold[i] == k and family[stem[i]] and any(fold[j] != k for j in members[family[stem[i]]])
        ]
        index = Index.build([pieces[i] for i in ref], invariance=invariance)
        tops = top_sources([pieces[i] for i in queries], index, overrides)
        for q, top in zip(queries, tops, strict=True):
            others = np.array([[q, j] for j in members[family[stem[q]]] if fold[j] != k], np.int64)
            related = bool(rule.same_tune(lines, others, alignment_scores(lines, others, rule)).any())
            hit = bool(top) and family[Path(top).stem] == family[stem[q]]
            n, hits = n + 1, hits + hit
            n_related, hits_related = n_related + related, hits_related + (related and hit)
            if related and not hit and top:  # is the top source itself a variant, under another title?
                pair = np.array([[q, index_of[Path(top).stem]]], np.int64)
                other_variant += bool(rule.same_tune(lines, pair, alignment_scores(lines, pair, rule))[0])
    print(
        f"{dataset} ({invariance}): title families, {folds} folds: {n} tunes with a family member in another fold; top source "
        f"in the family {hits / max(n, 1):.3f} ({hits}); a family member aligns with the tune (tune-level "
        f"alignment above chance) for {n_related}, and their top source is in the family for "
        f"{hits_related / max(n_related, 1):.3f} ({hits_related}); of the remaining {n_related - hits_related} "
        f"with a related family member, {other_variant} have a top source (under another title) that aligns "
        f"with the tune itself: a recognisable variant as top source for "
        f"{(hits_related + other_variant) / max(n_related, 1):.3f}  "
        f"({time.perf_counter() - t:.0f} s)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="essen")
    ap.add_argument("--splits", nargs="+", default=["test"], help="held-out splits to query")
    ap.add_argument("--match", action="append", default=[], metavar="FIELD=VALUE", help="a MatchConfig override")
    ap.add_argument("--verbose", action="store_true", help="one line per held-out tune")
    ap.add_argument("--titles", action="store_true", help="title families, K folds (module docstring)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--invariance", default="transposed+tempo", help="the index's invariance (e.g. intervals)")
    args = ap.parse_args()
    overrides: dict[str, Any] = {k: _value(v) for k, v in (item.split("=", 1) for item in args.match)}
    if args.titles:
        title_families(args.dataset, args.folds, overrides, args.invariance)
        return

    ds = load_dataset(args.dataset)
    records = ds.records()
    abc = _music21_abc({r["source"]["file"] for r in records if isinstance(r.get("source"), dict)})
    group_of_tune = esac_groups(abc)
    group: dict[str, str | None] = {
        Path(r["file"]).name: group_of_tune.get((r["source"]["file"], int(r["source"]["index"])))
        for r in records
        if isinstance(r.get("source"), dict)
    }
    if not any(group.values()):
        raise SystemExit(f"{args.dataset}: no variant annotation (lettered EsAC signatures) found")
    split_of = {Path(r["file"]).name: r["split"] for r in records}
    in_train = Counter(g for name, g in group.items() if g and split_of[name] == "train")
    queries = [r for r in records if r["split"] in args.splits and in_train.get(group.get(Path(r["file"]).name) or "")]
    queries.sort(key=lambda r: str(r["file"]))

    t0 = time.perf_counter()
    train = ds.pieces("train")
    index = Index.build(train, invariance=args.invariance)
    held = {Path(p.source or "").name: p for s in args.splits for p in ds.pieces(s)}
    pieces = [held[Path(r["file"]).name] for r in queries]
    print(
        f"{args.dataset}: {len(in_train)} variant groups with a training member; {len(pieces)} held-out "
        f"tunes of them ({', '.join(args.splits)}); reference {index.n_pieces} pieces ({time.perf_counter() - t0:.1f} s)"
    )
    t = time.perf_counter()
    report = analyze(pieces, index, originality=False, jobs=1, show_progress=False, **overrides)
    elapsed = time.perf_counter() - t
    order = {r.piece: k for k, r in enumerate(report.query_records())}
    notes: list[Counter[str]] = [Counter() for _ in pieces]
    shares: list[bool] = [False] * len(pieces)  # some copied or varied passage names a variant
    for p in report.passage_records:
        k = order[p.piece]
        if p.label in ("copied", "varied") and p.source_names:
            notes[k][p.source_names[0]] += len(p.notes)
            shares[k] |= any(group.get(s) == group[Path(queries[k]["file"]).name] for s in p.source_names)
    own: Counter[str] = Counter()
    related: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for r, counts, shared in zip(queries, notes, shares, strict=True):
        g = group[Path(r["file"]).name] or ""
        collection = g.split("/")[0]
        total[collection] += 1
        related[collection] += shared
        top = max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0] if counts else ""
        own[collection] += bool(top) and group.get(top) == g
        if args.verbose:
            print(f"  {Path(r['file']).name:22s} {g:14s} top {top or '-':22s} ({group.get(top) or '-'}) variant named: {shared}")
    n, n_own, n_related = len(pieces), sum(own.values()), sum(related.values())
    print(
        f"top source in own variant group: {n_own / n:.3f} of tunes ({n_own}/{n}); a copied or varied "
        f"passage names a variant for {n_related / n:.3f} ({n_related}); top source a variant for "
        f"{n_own / max(n_related, 1):.3f} of those  ({1000 * elapsed / max(n, 1):.0f} ms/piece)"
    )
    for c in sorted(total):
        print(f"  {c:10s} {total[c]:4d} tunes: top source a variant {own[c]:3d}, a passage names one {related[c]:3d}")

if __name__ == "__main__":
    main()
