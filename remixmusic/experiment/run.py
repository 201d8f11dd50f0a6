"""The experiment: does a music transformer recombine its training data more than human composers do?

It tests one prediction of the "deep retrieval and remixing" hypothesis (generative models write good
output mainly by retrieving and recombining pieces of their training data): a trained transformer's
output should be made of recombined training phrases clearly more than held-out human music of the same
style, while being better music than a model that does nothing but recombine. Four groups are analysed
against one reference index of the checkpoint's training split:

* ``transformer``: ``n`` pieces sampled from the checkpoint;
* ``infinigram``: ``n`` pieces, with the same sampling settings and seed, from the unsmoothed
  longest-context model over the same tokens and training split (:mod:`remixmusic.infinigram`, the
  ∞-gram of Liu et al. 2024, its context capped at ``infinigram_context`` tokens): the
  *pure-recombination* positive control. It continues the training passage its last tokens come from
  and can only jump to another passage that shares them, so its output is nothing but training music.
  It indexes the training pieces as they are (no transpositions: the analysis matches
  transposition-invariantly, so transposed copies would add no other recombination);
* ``ngram``: ``n`` pieces from an interpolated Kneser-Ney n-gram (:mod:`remixmusic.ngram`), a smoothed
  short-context baseline. Smoothing lets it wander off every training passage (at temperature 1 it shows
  about no copying, measured 2026-11), so it is reported, never used as the recombination reference;
* ``human``: the dataset's held-out test split, cleaned of pieces that duplicate a training piece (the
  analyzer's leakage check, Merrill et al. 2024), as the human control of McCoy et al. (2023, RAVEN).

Like with like. A model only ever sees music through its tokenizer (tracks merged, onsets on the token
grid), and a generated piece is one track. Reference and human pieces therefore go through
:meth:`~remixmusic.tokenizer.RemiTokenizer.canonicalize` too, or a verbatim copy of a four-part chorale
would not match its own four-track source; human pieces are cut to the generated length (``bars``), so
length-dependent measures (longest copied span, fan-in) compare pieces of one size.

Statistics per measure and pair of groups (:data:`PAIRS`): bootstrap 95% intervals of the means,
two-sided Mann-Whitney U, Cliff's delta (:mod:`remixmusic.significance`). The *position* of the
transformer on a measure is ``(T - H) / (R - H)`` with ``T, R, H`` the means of the transformer, the
∞-gram and the human control: 0 is where human music sits, 1 where pure recombination sits (bootstrap
interval from resampling each group); it is undefined when the ∞-gram and the human means (nearly)
coincide.

Quality proxies: held-out (test split) bits per note of the transformer and the n-gram (the ∞-gram has
none: it gives probability zero to every continuation it has not seen, so its share of such held-out
tokens is reported instead), and the overlapping area of per-piece descriptor distributions with the
human pieces (Yang & Lerch 2020, :func:`remixmusic.stats.compare`), averaged over descriptors.

The verdict follows the decision rules in :data:`RULES`, in order, on the primary measure :data:`PRIMARY`
(the share of motifs labelled copied or varied: the hypothesis speaks of recombining *and slightly
modifying* retrieved parts). "Higher" there means a two-sided Mann-Whitney ``p < alpha`` (0.05) and a
non-negligible Cliff's delta (``|delta| >= 0.147``, Romano et al. 2006) in that direction.
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from remixmusic.errors import RemixError
from remixmusic.evaluation.significance import compare
from remixmusic.experiment.design import (
    CONTROL,
    DEFAULT_INFINIGRAM_CONTEXT,
    LABELS,
    MEASURES,
    MODELS,
    PAIRS,
    PRIMARY,
    Log,
)
from remixmusic.experiment.result import ExperimentResult, _num
from remixmusic.experiment.verdict import _float, _position, comparison_row, decide


def run_experiment(
    checkpoint: str | Path | None = None,
    n: int = 32,
    bars: int = 16,
    seed: int = 0,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    ngram_order: int | None = None,
    jobs: int = 0,
    out_dir: str | Path = "experiments/run",
    *,
    infinigram_context: int | None = DEFAULT_INFINIGRAM_CONTEXT,
    dataset: str | Path | None = None,
    min_pieces: int = 8,
    alpha: float = 0.05,
    overwrite: bool = False,
    show_progress: bool = True,
    log: Log | None = None,
) -> ExperimentResult:
    """Run the experiment end to end (see the module docstring) and save it into ``out_dir``.

    ``checkpoint``: a transformer checkpoint (default: the shipped one). Its training dataset is found by
    the name it records (or ``dataset``, a folder, when that name is not in the dataset roots) and must
    have the recorded manifest hash. ``infinigram_context``: the ∞-gram's longest context in tokens
    (``None``: unbounded); the ∞-gram is indexed on the training split here and saved (its tokens, well
    under a megabyte) in ``out_dir/infinigram-model``. ``ngram_order``: the KN n-gram order to sample
    with (default: the order chosen on the valid split); an n-gram saved next to the checkpoint
    (``CHECKPOINT/ngram`` or ``ngram-DATASET`` beside it, as ``remixmusic ngram`` writes) is reused when
    it has the checkpoint's tokenizer and dataset, else one is fitted in memory and not saved (its counts
    take up to hundreds of megabytes; the settings that refit it are in ``experiment.json``). All models
    sample with the same ``bars``, ``temperature``, ``top_k``, ``top_p`` and ``seed``. ``log`` receives
    one line per stage.
    """
    from remixmusic.generation.baselines.infinigram import fit_infinigram
    from remixmusic.generation.checkpoint import package_versions
    from remixmusic.generation.checkpoint_info import read_info
    from remixmusic.generation.loading import load_model
    from remixmusic.generation.sampling import generate, write_generated
    from remixmusic.novelty.analyze import analyze
    from remixmusic.novelty.index import Index

    say = log or (lambda message: None)
    if n < 1 or bars < 1:
        raise RemixError("n and bars must be at least 1")
    if infinigram_context is not None and infinigram_context < 1:
        raise RemixError("infinigram_context must be at least 1 token (or None for unbounded)")
    out = Path(out_dir)
    _prepare_output(out, overwrite)
    timings: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(stage: str) -> None:
        now = time.perf_counter()
        timings[stage] = round(now - clock[0], 3)
        clock[0] = now

    say("1/5 loading the checkpoint, its dataset and the human control")
    model, tokenizer, t_identity = load_model(checkpoint)
    info = read_info(t_identity["path"])
    data = _checkpoint_dataset(info, dataset)
    train = _canonical(tokenizer, data.pieces("train", jobs=jobs, show_progress=show_progress))
    test = data.pieces("test", jobs=jobs, show_progress=show_progress)
    if not train or not test:
        raise RemixError(f"dataset {data.name!r} needs non-empty train and test splits for the experiment")
    human = [p for p in (q.crop_bars(0, bars) for q in _canonical(tokenizer, test)) if len(p.notes)]
    lap("load")

    say("2/5 the baselines on the same training split and tokens: ∞-gram (pure recombination), KN n-gram")
    infinigram = fit_infinigram(data.root, info.tokenizer_config, infinigram_context, jobs=jobs)
    infinigram, _, i_identity = load_model(infinigram.save(out / "infinigram-model"))
    ngram, n_identity = _ngram_model(info, data, ngram_order, jobs, say)
    if ngram_order is not None:
        if not 1 <= ngram_order <= ngram.max_order:
            raise RemixError(f"ngram_order must be in 1..{ngram.max_order}")
        ngram.order_ = ngram_order
    n_identity = {**n_identity, "order": ngram.order_}
    lap("baselines")

    sampling = {"bars": bars, "temperature": temperature, "top_k": top_k, "top_p": top_p, "seed": seed}
    identities = {"transformer": t_identity, "infinigram": i_identity, "ngram": n_identity}
    models = {"transformer": model, "infinigram": infinigram, "ngram": ngram}
    paths: dict[str, list[Path]] = {}
    pieces: dict[str, list[Any]] = {}
    for group in MODELS:
        say(f"3/5 generating {n} pieces from the {LABELS[group]}")
        results = generate(models[group], tokenizer, n, show_progress=show_progress, **sampling)
        paths[group] = write_generated(results, out / group, identities[group])
        pieces[group] = [r.piece for r in results]
    lap("generate")

    say(
        f"4/5 analysing the models' pieces against one index of {len(train)} training pieces, with "
        f"{len(human)} human ones"
    )
    index = Index.build(train, show_progress=show_progress)
    common = {"jobs": jobs, "seed": seed, "show_progress": show_progress}
    analyses = {
        group: analyze(paths[group], index, control=human if group == "transformer" else None, **common)
        for group in MODELS
    }
    reports = {group: f"analysis/{group}" for group in MODELS}
    for group, report in analyses.items():
        report.save(out / reports[group])
    lap("analyze")

    say("5/5 comparing the groups and deciding")
    t_report = analyses["transformer"]
    removed = set(t_report.leakage["removed"])
    records = {g: analyses[g].query_records() for g in MODELS}
    records["human"] = [r for r in t_report.piece_records if r["group"] == "control" and not r["leaked"]]
    values = {
        g: {key: [_float(r[key]) for r in recs] for key, _, _ in MEASURES} for g, recs in records.items()
    }
    comparisons = [
        comparison_row(key, a, b, compare(key, values[a][key], values[b][key], alpha=alpha, seed=seed))
        for key, _, _ in MEASURES
        for a, b in PAIRS
    ]
    positions = [_position(key, name, values, seed) for key, name, _ in MEASURES]
    clean_human = [p for p in human if Path(p.source or "").name not in removed]
    quality = _quality(info, infinigram, ngram, tokenizer, test, pieces, clean_human)
    by_key = {(r["measure"], r["group_a"], r["group_b"]): r for r in comparisons}
    verdict = decide(by_key, positions, quality, min_pieces, alpha)
    lap("compare")

    settings = {
        "checkpoint": t_identity["path"],
        "n": n,
        **sampling,
        "infinigram_context": infinigram_context,
        "ngram_order": ngram_order,
        "jobs": jobs,
        "min_pieces": min_pieces,
        "alpha": alpha,
        "primary_measure": PRIMARY,
        "recombination_control": CONTROL,
        "analysis": {k: v for k, v in t_report.params.items() if k not in ("n_query", "n_control")},
    }
    provenance = {
        **identities,
        "transformer_metrics": info.metrics,
        "infinigram_metrics": infinigram.metadata.get("metrics", {}),
        "ngram_valid_bits_per_token": ngram.valid_bits_per_token_,
        "dataset": {
            "name": data.name,
            "manifest_hash": data.manifest_hash,
            "n_train": len(train),
            "n_test": len(test),
            "n_test_nonempty_after_crop": len(human),
        },
        "versions": package_versions(),
    }
    coverage = {g: analyses[g].coverage["query"] for g in MODELS}
    result = ExperimentResult(
        settings=settings,
        provenance=provenance,
        values=values,
        comparisons=comparisons,
        positions=positions,
        quality=quality,
        leakage=t_report.leakage,
        coverage_lengths=t_report.coverage_lengths,
        coverage={**coverage, "human": t_report.coverage["control"]},
        min_match_notes=int(t_report.params["min_match_notes"]),
        verdict=verdict,
        timings=timings,
        reports=reports,
    )
    result.save(out)
    return result


def _prepare_output(out: Path, overwrite: bool) -> None:
    """Refuse to mix with an earlier run unless ``overwrite``; then clear only what an experiment writes."""
    if out.exists() and not out.is_dir():
        raise RemixError(f"{out} is a file; give a folder for the experiment")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise RemixError(f"{out} is not empty; choose another folder or pass --overwrite")
        for name in (*MODELS, "infinigram-model", "ngram-model", "analysis"):
            shutil.rmtree(out / name, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def _checkpoint_dataset(info: Any, dataset: str | Path | None) -> Any:
    """The dataset the checkpoint was trained on, verified by the manifest hash it recorded."""
    from remixmusic.data.datasets import load_dataset

    name = dataset if dataset is not None else info.dataset.get("name")
    if not name:
        raise RemixError(f"{info.path}: the checkpoint does not record its training dataset; pass dataset=")
    data = load_dataset(name)
    expected = info.dataset.get("manifest_hash")
    if expected and expected != data.manifest_hash:
        raise RemixError(
            f"dataset {data.name!r} ({data.root}) is not the one {info.name} was trained on (manifest hash "
            f"{data.manifest_hash[:12]} != {expected[:12]})"
        )
    return data


def _canonical(tokenizer: Any, pieces: list[Any]) -> list[Any]:
    """Pieces as the model's tokenizer represents them (see "Like with like" in the module docstring)."""
    return [tokenizer.canonicalize(p) for p in pieces]


def _ngram_model(info: Any, data: Any, order: int | None, jobs: int, say: Log) -> tuple[Any, dict[str, Any]]:
    """A saved KN n-gram next to the checkpoint with its tokenizer and dataset, else one fitted in memory;
    with its identity for the sidecars."""
    from remixmusic.errors import CheckpointError
    from remixmusic.generation.baselines.ngram import NGramModel, fit_ngram
    from remixmusic.generation.loading import load_model

    for candidate in (info.path / "ngram", info.path.parent / f"ngram-{data.name}"):
        if not (candidate / "ngram.json").exists():
            continue
        try:
            model, _, identity = load_model(candidate)
        except CheckpointError as exc:
            say(f"   ignoring {candidate}: {exc}")
            continue
        same = (
            isinstance(model, NGramModel)
            and model.metadata.get("tokenizer") == info.tokenizer_config
            and model.metadata.get("dataset", {}).get("manifest_hash") == data.manifest_hash
        )
        if same and (order is None or order <= model.max_order):
            say(f"   using the saved n-gram {candidate} (order {model.order_})")
            return model, {**identity, "source": str(candidate)}
        say(f"   ignoring {candidate}: not a KN n-gram of this tokenizer and dataset, or too low an order")
    # The transformer's training data includes its random transpositions; the n-gram counts them all.
    transpose = int(info.train_config.get("transpose", 0))
    max_order = max(16, order or 0)
    model = fit_ngram(data.root, info.tokenizer_config, max_order, transpositions=transpose, jobs=jobs)
    say(
        f"   fitted an n-gram up to order {model.max_order} (transpositions +-{transpose}); order "
        f"{model.order_} is best on valid"
    )
    identity = {
        **model.describe(),
        "id": f"ngram-{data.name}-fitted",
        "name": "fitted",
        "source": "fitted",
        "fit": {"max_order": max_order, "transpositions": transpose, "manifest_hash": data.manifest_hash},
    }
    return model, identity


def _quality(
    info: Any,
    infinigram: Any,
    ngram: Any,
    tokenizer: Any,
    test: list[Any],
    pieces: dict[str, list[Any]],
    human: list[Any],
) -> dict[str, Any]:
    """Held-out bits per note (the ∞-gram: its zero-probability rate) and descriptor overlap with human
    pieces of every model."""
    from remixmusic.data.tokens import count_notes, encode_pieces
    from remixmusic.evaluation.descriptors import DESCRIPTORS, describe_pieces
    from remixmusic.evaluation.descriptors import compare as compare_descriptors

    seqs = encode_pieces(tokenizer, test)
    ngram_bits = ngram.evaluate(seqs, count_notes(tokenizer, seqs)).bits_per_note
    infini = infinigram.metadata.get("metrics", {})
    bits = {
        "transformer": _float(info.metrics.get("test_bits_per_note")),
        "infinigram": _float(infini.get("test_bits_per_note")),
        "ngram": float(ngram_bits),
    }
    zeros = {"infinigram": _float(infini.get("test_zero_probability_rate"))}
    human_stats = describe_pieces(human)
    overlap = {g: compare_descriptors(describe_pieces(pieces[g]), human_stats) for g in MODELS}
    mean_overlap = {g: _nanmean(list(o.values())) for g, o in overlap.items()}
    return {
        "bits_per_note_split": "test",
        "models": [
            {
                "group": g,
                "test_bits_per_note": bits[g],
                "test_zero_probability_rate": zeros.get(g, 0.0),
                "descriptor_overlap": mean_overlap[g],
            }
            for g in MODELS
        ],
        "note": (
            "The ∞-gram has no bits per note: it gives probability zero to every held-out token it never "
            f"saw after the longest matching context ({_num(zeros['infinigram'], '{:.1%}')} of the test "
            "tokens); the transformer and the smoothed n-gram give every token some probability."
        ),
        "descriptors": [{"descriptor": d, **{g: overlap[g][d] for g in overlap}} for d in DESCRIPTORS],
        "descriptor_overlap": mean_overlap,
        "bits_per_note": bits,
    }


def _nanmean(values: list[float]) -> float:
    arr = np.asarray(values, np.float64)
    return float(arr[~np.isnan(arr)].mean()) if (~np.isnan(arr)).any() else math.nan
