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
two-sided Mann-Whitney U, Cliff's delta (:mod:`remixmusic.evaluation.significance`), the human pieces
resampled and tested by tune group (the dataset manifest's near-duplicate groups; the cluster bootstrap
and a Mann-Whitney test on group means). Per pair, :data:`PRIMARY` is tested at alpha and the other
measures' p-values are Holm-adjusted (Holm 1979; :func:`~remixmusic.experiment.verdict.compare_pairs`).
The *position* of the
transformer on a measure is ``(T - H) / (R - H)`` with ``T, R, H`` the means of the transformer, the
∞-gram and the human control: 0 is where human music sits, 1 where pure recombination sits (bootstrap
interval from resampling each group, human pieces by tune group); it is undefined when the ∞-gram and
the human means (nearly) coincide.

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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from remixmusic.errors import RemixError
from remixmusic.experiment.config import ExperimentConfig
from remixmusic.experiment.design import CONTROL, LABELS, MEASURES, MODELS, PRIMARY, Log
from remixmusic.experiment.result import ExperimentResult, Verdict, _num
from remixmusic.experiment.verdict import _float, _position, compare_pairs, decide

if TYPE_CHECKING:
    from remixmusic.data.datasets import Dataset
    from remixmusic.generation.baselines.ngram import NGramModel
    from remixmusic.generation.checkpoint_info import CheckpointInfo
    from remixmusic.generation.protocols import GenerativeModel
    from remixmusic.music.notes import Piece
    from remixmusic.novelty.report import AnalysisReport
    from remixmusic.tokenizer.remi import RemiTokenizer


def run_experiment(
    config: ExperimentConfig,
    out: str | Path = "experiments/run",
    *,
    jobs: int = 0,
    overwrite: bool = False,
    show_progress: bool = True,
    log: Log | None = None,
) -> ExperimentResult:
    """Run the experiment end to end (see the module docstring) and save it into the folder ``out``.

    ``config`` says what to run (see :class:`~remixmusic.experiment.config.ExperimentConfig`); it is
    saved in ``experiment.json`` under ``config``, with the checkpoint resolved to its path. The
    checkpoint's training dataset must have the manifest hash it recorded. The ∞-gram is indexed on the
    training split here and saved (its tokens, well under a megabyte) in ``out/infinigram-model``. A KN
    n-gram saved next to the checkpoint (``CHECKPOINT/ngram`` or ``ngram-DATASET`` beside it, as
    ``remixmusic ngram`` writes) is reused when it has the checkpoint's tokenizer and dataset, else one is
    fitted in memory and not saved (its counts take up to hundreds of megabytes; the settings that refit
    it are in ``experiment.json``). ``jobs`` worker processes (0: one per core) and ``show_progress``
    never change the result; ``overwrite`` replaces an earlier experiment in ``out``; ``log`` receives
    one line per stage.

    Raises:
        RemixError: ``out`` is a file, or holds an earlier run and ``overwrite`` is off; the checkpoint
            records no dataset, the dataset changed since training, or it lacks train or test pieces.
        CheckpointError: the checkpoint cannot be read.
    """
    say = log or (lambda message: None)
    folder = Path(out)
    _prepare_output(folder, overwrite)
    timer = _Timer()

    say("1/5 loading the checkpoint, its dataset and the human control")
    inputs = _load(config, jobs, show_progress)
    timer.lap("load")

    say("2/5 the baselines on the same training split and tokens: ∞-gram (pure recombination), KN n-gram")
    models = _baselines(config, inputs, folder, jobs, say)
    timer.lap("baselines")

    sampled = _sample(config, inputs.tokenizer, models, folder, show_progress, say)
    timer.lap("generate")

    say(
        f"4/5 analysing the models' pieces against one index of {len(inputs.train)} training pieces, with "
        f"{len(inputs.human)} human ones"
    )
    analyses = _analyze(sampled.paths, inputs.train, inputs.human, config.seed, jobs, show_progress)
    reports = {group: f"analysis/{group}" for group in MODELS}
    for group, report in analyses.items():
        report.save(folder / reports[group])
    timer.lap("analyze")

    say("5/5 comparing the groups and deciding")
    values = _group_values(analyses)
    human_groups = [r.tune_group for r in analyses["transformer"].compared_records("control")]
    comparisons = _compare(values, human_groups, config)
    positions = [_position(key, name, values, config.seed, human_groups) for key, name, _ in MEASURES]
    quality = _quality(
        inputs.info,
        models.infinigram_metadata,
        models.ngram,
        inputs.tokenizer,
        inputs.test,
        sampled.pieces,
        _clean_human(inputs.human, analyses["transformer"]),
    )
    verdict = _decide(comparisons, positions, quality, config)
    timer.lap("compare")

    t_report = analyses["transformer"]
    saved_config = config.with_checkpoint(inputs.identity["path"])
    settings = {
        **saved_config.to_dict(),
        "sampling": sampled.config,
        "jobs": jobs,
        "primary_measure": PRIMARY,
        "recombination_control": CONTROL,
        "analysis": {k: v for k, v in t_report.params.items() if k not in ("n_query", "n_control")},
    }
    result = ExperimentResult(
        config=saved_config,
        settings=settings,
        provenance=_provenance(inputs, models),
        values=values,
        comparisons=comparisons,
        positions=positions,
        quality=quality,
        leakage=t_report.leakage,
        coverage_lengths=t_report.coverage_lengths,
        coverage={
            **{g: analyses[g].coverage["query"] for g in MODELS},
            "human": t_report.coverage["control"],
        },
        min_match_notes=int(t_report.params["min_match_notes"]),
        verdict=verdict,
        timings=timer.timings,
        reports=reports,
    )
    result.save(folder)
    return result


class _Timer:
    """Seconds per stage, each measured from the end of the previous one."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round(now - self._last, 3)
        self._last = now


@dataclass
class _Inputs:
    """Stage 1: the transformer and its checkpoint, its dataset, and the pieces every group meets."""

    model: GenerativeModel
    tokenizer: RemiTokenizer
    identity: dict[str, Any]  # the transformer's identity, as its sidecars record it
    info: CheckpointInfo
    data: Dataset
    train: list[Piece]  # the training split, canonicalized: the reference
    test: list[Piece]  # the held-out test split as read
    human: list[Piece]  # the test split canonicalized and cut to ``bars`` (non-empty pieces only)


@dataclass
class _Models:
    """Stage 2: the three generating models (in :data:`MODELS` order) and their identities."""

    transformer: GenerativeModel
    infinigram: GenerativeModel  # loaded back from the experiment folder, as its sidecars name it
    infinigram_metadata: dict[str, Any]  # its dataset, tokenizer and held-out metrics
    ngram: NGramModel
    identities: dict[str, dict[str, Any]]

    def by_group(self) -> dict[str, GenerativeModel]:
        return {"transformer": self.transformer, "infinigram": self.infinigram, "ngram": self.ngram}


@dataclass
class _Sampled:
    """Stage 3: each model's written MIDI files and pieces, and the sampling config they share."""

    paths: dict[str, list[Path]]
    pieces: dict[str, list[Piece]]
    config: dict[str, Any]


def _load(config: ExperimentConfig, jobs: int, show_progress: bool) -> _Inputs:
    """Stage 1: the checkpoint, the dataset it was trained on, the reference and the human control."""
    from remixmusic.generation.checkpoint_info import read_info
    from remixmusic.generation.loading import load_model

    model, tokenizer, identity = load_model(config.checkpoint)
    info = read_info(identity["path"])
    data = _checkpoint_dataset(info, config.dataset)
    train = _canonical(tokenizer, data.pieces("train", jobs=jobs, show_progress=show_progress))
    test = data.pieces("test", jobs=jobs, show_progress=show_progress)
    if not train or not test:
        raise RemixError(f"dataset {data.name!r} needs non-empty train and test splits for the experiment")
    cropped = (p.crop_bars(0, config.bars) for p in _canonical(tokenizer, test))
    human = [p for p in cropped if len(p.notes)]
    return _Inputs(model, tokenizer, identity, info, data, train, test, human)


def _baselines(config: ExperimentConfig, inputs: _Inputs, out: Path, jobs: int, say: Log) -> _Models:
    """Stage 2: the ∞-gram (fitted, saved in ``out`` and loaded back as the sidecars name it) and the KN
    n-gram, on the transformer's training split and tokens."""
    from remixmusic.generation.baselines.infinigram import fit_infinigram
    from remixmusic.generation.loading import load_model

    info = inputs.info
    fitted = fit_infinigram(inputs.data.root, info.tokenizer_config, config.infinigram_context, jobs=jobs)
    infinigram, _, i_identity = load_model(fitted.save(out / "infinigram-model"))
    ngram, n_identity = _ngram_model(info, inputs.data, config.ngram_order, jobs, say)
    if config.ngram_order is not None:
        ngram.order_ = config.ngram_order  # a reused model has at least this order, a fitted one 16
    identities = {
        "transformer": inputs.identity,
        "infinigram": i_identity,
        "ngram": {**n_identity, "order": ngram.order_},
    }
    return _Models(inputs.model, infinigram, fitted.metadata, ngram, identities)


def _sample(
    config: ExperimentConfig,
    tokenizer: RemiTokenizer,
    models: _Models,
    out: Path,
    show_progress: bool,
    say: Log,
) -> _Sampled:
    """Stage 3: ``n`` pieces from every model with one sampling config, written to ``out/GROUP``."""
    from remixmusic.generation.sampling import generate, write_generated

    sampling = config.sampling_config()
    paths: dict[str, list[Path]] = {}
    pieces: dict[str, list[Piece]] = {}
    for group, model in models.by_group().items():
        say(f"3/5 generating {sampling.n} pieces from the {LABELS[group]}")
        results = generate(model, tokenizer, sampling, show_progress=show_progress)
        paths[group] = write_generated(results, out / group, models.identities[group])
        pieces[group] = [r.piece for r in results]
    return _Sampled(paths, pieces, sampling.to_dict())


def _analyze(
    paths: dict[str, list[Path]],
    train: list[Piece],
    human: list[Piece],
    seed: int,
    jobs: int,
    show_progress: bool,
) -> dict[str, AnalysisReport]:
    """Stage 4: every model's pieces against one index of the training pieces; the transformer's report
    also analyses the human control (and removes human pieces that duplicate training ones)."""
    from remixmusic.novelty.analyze import analyze
    from remixmusic.novelty.index import Index

    index = Index.build(train, show_progress=show_progress)
    return {
        group: analyze(
            paths[group],
            index,
            control=human if group == "transformer" else None,
            allow_empty=True,  # a model that wrote only empty pieces: none to measure, not an error
            jobs=jobs,
            seed=seed,
            show_progress=show_progress,
        )
        for group in MODELS
    }


def _group_values(analyses: dict[str, AnalysisReport]) -> dict[str, dict[str, list[float]]]:
    """Per group and measure, one value per piece (NaN where undefined); the human group is the
    transformer report's control, less the leaked pieces (the report's own compared control set)."""
    records = {g: analyses[g].query_records() for g in MODELS}
    records["human"] = analyses["transformer"].compared_records("control")
    return {
        g: {key: [_float(r.measure(key)) for r in recs] for key, _, _ in MEASURES} for g, recs in records.items()
    }


def _clean_human(human: list[Piece], t_report: AnalysisReport) -> list[Piece]:
    """The human pieces less those the leakage check removed (they duplicate a training piece)."""
    removed = set(t_report.leakage["removed"])
    return [p for p in human if Path(p.source or "").name not in removed]


def _compare(
    values: dict[str, dict[str, list[float]]], human_groups: list[str], config: ExperimentConfig
) -> list[dict[str, Any]]:
    """Stage 5a: one comparison row per measure and pair of groups (:data:`PAIRS`), the human pieces
    clustered by ``human_groups`` (see :func:`~remixmusic.experiment.verdict.compare_pairs`)."""
    return compare_pairs(values, {"human": human_groups}, alpha=config.alpha, seed=config.seed)


def _decide(
    comparisons: list[dict[str, Any]],
    positions: list[dict[str, Any]],
    quality: dict[str, Any],
    config: ExperimentConfig,
) -> Verdict:
    """Stage 5c: the decision rules on the primary measure (see :func:`~remixmusic.experiment.verdict.decide`)."""
    by_key = {(r["measure"], r["group_a"], r["group_b"]): r for r in comparisons}
    return decide(by_key, positions, quality, config.min_pieces, config.alpha)


def _provenance(inputs: _Inputs, models: _Models) -> dict[str, Any]:
    """Which models, metrics, dataset and package versions the result comes from."""
    from remixmusic.generation.checkpoint import package_versions

    data = inputs.data
    return {
        **models.identities,
        "transformer_metrics": inputs.info.metrics,
        "infinigram_metrics": models.infinigram_metadata.get("metrics", {}),
        "ngram_valid_bits_per_token": models.ngram.valid_bits_per_token_,
        "dataset": {
            "name": data.name,
            "manifest_hash": data.manifest_hash,
            "n_train": len(inputs.train),
            "n_test": len(inputs.test),
            "n_test_nonempty_after_crop": len(inputs.human),
        },
        "versions": package_versions(),
    }


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


def _checkpoint_dataset(info: CheckpointInfo, dataset: str | Path | None) -> Dataset:
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


def _canonical(tokenizer: RemiTokenizer, pieces: list[Piece]) -> list[Piece]:
    """Pieces as the model's tokenizer represents them (see "Like with like" in the module docstring)."""
    return [tokenizer.canonicalize(p) for p in pieces]


def _ngram_model(
    info: CheckpointInfo, data: Dataset, order: int | None, jobs: int, say: Log
) -> tuple[NGramModel, dict[str, Any]]:
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
        if (
            isinstance(model, NGramModel)
            and model.metadata.get("tokenizer") == info.tokenizer_config
            and model.metadata.get("dataset", {}).get("manifest_hash") == data.manifest_hash
            and (order is None or order <= model.max_order)
        ):
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
    info: CheckpointInfo,
    infinigram_metadata: dict[str, Any],
    ngram: NGramModel,
    tokenizer: RemiTokenizer,
    test: list[Piece],
    pieces: dict[str, list[Piece]],
    human: list[Piece],
) -> dict[str, Any]:
    """Stage 5b: held-out bits per note (the ∞-gram: its zero-probability rate) and descriptor overlap
    with the human pieces of every model."""
    from remixmusic.data.tokens import count_notes, encode_pieces
    from remixmusic.evaluation.descriptors import DESCRIPTORS, describe_pieces
    from remixmusic.evaluation.descriptors import compare as compare_descriptors

    seqs = encode_pieces(tokenizer, test)
    ngram_bits = ngram.evaluate(seqs, count_notes(tokenizer, seqs)).bits_per_note
    infini = infinigram_metadata.get("metrics", {})
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
