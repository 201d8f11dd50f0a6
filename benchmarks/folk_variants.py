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

    python benchmarks/folk_variants.py                       # essen test split
    python benchmarks/folk_variants.py --splits test valid --match max_chains=256
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="essen")
    ap.add_argument("--splits", nargs="+", default=["test"], help="held-out splits to query")
    ap.add_argument("--match", action="append", default=[], metavar="FIELD=VALUE", help="a MatchConfig override")
    ap.add_argument("--verbose", action="store_true", help="one line per held-out tune")
    args = ap.parse_args()
    overrides: dict[str, Any] = {k: _value(v) for k, v in (item.split("=", 1) for item in args.match)}

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
    index = Index.build(train)
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
