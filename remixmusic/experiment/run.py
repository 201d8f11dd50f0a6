"""The experiment: does a music transformer remix its training data, at what granularity, and does
remixing buy quality? (The questions, conditions and rules: :mod:`remixmusic.experiment.design`.)

One call, :func:`run_experiment`, runs every stage into one folder, each stage cached and resumable:

1. **corpus**: the dataset's splits; the reference index of the training split (``index/``, saved);
2. **training runs** (``runs/``): each ``preset:fraction`` run trained with snapshots, resumed exactly
   where an earlier process stopped, then its snapshots scored (train and valid bits per note);
3. **conditions** (``pieces/CONDITION/``): the human control and its shuffles, patchworks, ∞-grams, the
   KN n-gram, the transformer at every sampling setting, prompted continuations, and every snapshot's
   samples; each folder written atomically and reused when its settings are unchanged;
4. **measures** (``measured/CONDITION.json``, ``analysis/CONDITION/`` reports): the passage-level
   analysis of every condition against the one index, and its quality;
5. **answers**: the three verdicts, written to ``results.json``, ``experiment.html`` and ``results.md``.

A stage's cache key holds the dataset's manifest hash, the model's weights hash and the config fields
the stage reads, so a later run with the same seed reproduces every number, and a changed setting
reruns only what depends on it. Killing the process at any point loses at most the stage in progress.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remixmusic._util.files import write_json
from remixmusic.errors import RemixError, output_folder
from remixmusic.experiment import conditions as C
from remixmusic.experiment import design as D
from remixmusic.experiment.config import ExperimentConfig
from remixmusic.experiment.measure import QUALITY_VERSION, Measured, analyse_condition, fit_judge, quality_of
from remixmusic.experiment.questions import question1, question2, question3
from remixmusic.experiment.result import ExperimentResult

if TYPE_CHECKING:
    from remixmusic.generation.protocols import GenerativeModel
    from remixmusic.novelty.index import Index
    from remixmusic.tokenizer.remi import RemiTokenizer


def run_experiment(
    config: ExperimentConfig,
    out: str | Path = "experiments/run",
    *,
    jobs: int = 0,
    show_progress: bool = True,
    log: D.Log | None = None,
    stop_after: str | None = None,
) -> ExperimentResult:
    """Run (or resume) the experiment of the module docstring into the folder ``out``.

    ``jobs`` worker processes for reading and analysis (0: one per core) and ``show_progress`` never
    change the result; ``log`` receives one line per stage. ``stop_after="training"`` returns after the
    training runs (for a long sweep run in pieces); the result is then ``None``-free but holds no answers.

    Raises:
        RemixError: ``out`` is a file or cannot be made; the dataset lacks a split; a checkpoint records
            another dataset.
        CheckpointError: a checkpoint or a saved run cannot be read or resumed.
    """
    say = log or (lambda message: None)
    folder = output_folder(out, "the experiment")
    write_json(folder / "experiment.json", {"schema_version": D.SCHEMA_VERSION, "config": config.to_dict()})
    run = _Run(config, folder, jobs, show_progress, say)
    return run.all(stop_after)


class _Run:
    """The stages of one experiment (see the module docstring); each method caches its result."""

    def __init__(self, config: ExperimentConfig, folder: Path, jobs: int, show_progress: bool, say: D.Log):
        self.config, self.folder, self.jobs, self.show_progress, self.say = (
            config,
            folder,
            jobs,
            show_progress,
            say,
        )
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round(self.timings.get(stage, 0.0) + now - self._last, 2)
        self._last = now

    # -- the pipeline ---------------------------------------------------------------------------------
    def all(self, stop_after: str | None) -> ExperimentResult:
        from remixmusic.data.datasets import load_dataset

        cfg, say = self.config, self.say
        say(f"1/5 reading {cfg.dataset} and indexing its training split")
        self.data = load_dataset(cfg.dataset)
        self.main_path, tokenizer = self._main_checkpoint()
        self.corpus = C.load_corpus(self.data, tokenizer, cfg.bars, self.jobs, self.show_progress)
        self.index = self._index()
        self.lap("corpus")

        say(f"2/5 training runs: {', '.join(cfg.runs) or 'none'}")
        snapshots = self._training()
        self.lap("training")
        if stop_after == "training":
            return self._result({}, [], snapshots, {})
        if self.main_path is None:
            self.main_path = self.folder / "runs" / _main_run_name(cfg)

        say("3/5 making the conditions' pieces")
        made = self._conditions(snapshots)
        self.lap("conditions")

        say(f"4/5 analysing {len(made)} conditions against {len(self.corpus.train)} training pieces")
        measured = self._measure(made)
        self.lap("measures")

        say("5/5 answering the three questions")
        answers = self._answer(measured, snapshots)
        self.lap("answers")
        result = self._result(measured, answers, snapshots, {name: c.info for name, c in made.items()})
        result.save(self.folder)
        return result

    # -- stage 1 --------------------------------------------------------------------------------------
    def _main_checkpoint(self) -> tuple[Path | None, RemiTokenizer]:
        """The checkpoint of questions 1 and 2: the configured one, else the shipped one when it was trained
        on this dataset, else ``None`` (the main training run's, once trained); and the tokenizer."""
        from remixmusic.generation.checkpoint_info import default_checkpoint_path, read_info
        from remixmusic.tokenizer.config import TokenizerConfig
        from remixmusic.tokenizer.remi import RemiTokenizer

        cfg = self.config
        candidate = Path(cfg.checkpoint) if cfg.checkpoint else default_checkpoint_path()
        if candidate is not None and (candidate / "config.json").exists():
            info = read_info(candidate)
            if info.dataset.get("manifest_hash") == self.data.manifest_hash:
                return info.path, RemiTokenizer(TokenizerConfig.from_dict(info.tokenizer_config))
            if cfg.checkpoint:
                raise RemixError(
                    f"{cfg.checkpoint} was trained on {info.dataset.get('name')!r}, not on {self.data.name!r} "
                    "as it is now (manifest hashes differ)"
                )
        return None, RemiTokenizer()

    def _index(self) -> Index:
        from remixmusic.errors import IndexFileError
        from remixmusic.novelty.index import Index

        path = self.folder / "index"
        from remixmusic.music.lines import LINES_VERSION

        # A new way of reading lines gives another index: rebuilt, not reused.
        key = (
            self.data.manifest_hash
            + json.dumps(self.corpus.tokenizer.config.to_dict(), sort_keys=True)
            + f"lines{LINES_VERSION}"
        )
        try:
            if json.loads((self.folder / "index.key").read_text()) == key:
                return Index.load(path)
        except (OSError, ValueError, IndexFileError):
            pass
        index = Index.build(self.corpus.train, show_progress=self.show_progress)
        index.save(path)
        write_json(self.folder / "index.key", key)
        return index

    # -- stage 2 --------------------------------------------------------------------------------------
    def _training(self) -> dict[str, list[dict[str, Any]]]:
        from remixmusic.experiment.training_runs import best_step, score_snapshots, train_run

        cfg, out = self.config, {}
        keys = (
            "runs",
            "train_steps",
            "snapshot_steps",
            "train_batch_size",
            "block_size",
            "transpose",
            "seed",
        )
        for spec in cfg.run_specs():
            self.say(f"   run {spec.name}: {cfg.train_steps} steps, snapshots at {list(cfg.snapshot_steps)}")
            folder = train_run(spec, self.corpus, cfg, self.folder / "runs", self.show_progress)
            key = self._key("scores", spec.name, cfg.key(*keys))
            cached = self._cached(f"runs/{spec.name}.scores.json", key)
            if cached is None:
                cached = {
                    "snapshots": [s.to_dict() for s in score_snapshots(spec, folder, self.corpus, cfg)],
                    "best_step": best_step(folder),
                }
                self._store(f"runs/{spec.name}.scores.json", key, cached)
            out[spec.name] = [{**s, "best_step": cached["best_step"]} for s in cached["snapshots"]]
        return out

    # -- stage 3 --------------------------------------------------------------------------------------
    def _conditions(self, snapshots: dict[str, list[dict[str, Any]]]) -> dict[str, C.Condition]:
        cfg, corpus = self.config, self.corpus
        made: dict[str, C.Condition] = {}
        human_groups = corpus.human_groups
        dedup = {"melody_duplicates_removed": corpus.melody_duplicates}
        made[D.HUMAN] = self._make(
            D.HUMAN, {"bars": cfg.bars, **dedup}, lambda: (corpus.human, human_groups, {}, None)
        )
        made[D.SHUFFLED] = self._make(
            D.SHUFFLED,
            {"bars": cfg.bars, "seed": cfg.seed, **dedup},
            lambda: (C.shuffled(corpus.human, cfg.seed), human_groups, {}, None),
        )
        n_controls = min(cfg.n, max(len(corpus.human), cfg.min_pieces))
        for b in cfg.patchwork_bars:
            made[D.patchwork(b)] = self._make(
                D.patchwork(b),
                {"bars": cfg.bars, "n": n_controls, "seed": cfg.seed, "chunk": b},
                partial(self._patchworks, n_controls, b),
            )
        train_seqs = None
        for ctx in cfg.infinigram_contexts:

            def infinigram(ctx: int = ctx) -> tuple[Any, ...]:
                nonlocal train_seqs
                from remixmusic.generation.baselines.infinigram import InfiniGram

                train_seqs = train_seqs or self._train_sequences()
                tok = corpus.tokenizer
                model = InfiniGram(tok.vocab_size, tok.bos_id, ctx or None, tok.grammar()).fit(train_seqs)
                return self._sampled(model, {"kind": "infinigram", "max_context": ctx or None}, n_controls)

            made[D.infinigram(ctx)] = self._make(
                D.infinigram(ctx),
                {"bars": cfg.bars, "n": n_controls, "seeds": list(cfg.sample_seeds), "ctx": ctx},
                infinigram,
            )
        if cfg.ngram:

            def ngram() -> tuple[Any, ...]:
                from remixmusic.data.tokens import encode_pieces
                from remixmusic.generation.baselines.ngram import NGramModel

                tok = corpus.tokenizer
                model = NGramModel(tok.vocab_size, tok.bos_id, max_order=8, min_order=2)
                model.fit(self._train_sequences(), encode_pieces(tok, corpus.valid))
                return self._sampled(model, {"kind": "ngram", "order": model.order_}, n_controls)

            made[D.NGRAM] = self._make(
                D.NGRAM, {"bars": cfg.bars, "n": n_controls, "seeds": list(cfg.sample_seeds)}, ngram
            )
        model, identity = self._load(self.main_path)
        for t, p in cfg.settings():
            made[D.transformer(t, p)] = self._make(
                D.transformer(t, p),
                {
                    "bars": cfg.bars,
                    "n": cfg.n,
                    "seeds": list(cfg.sample_seeds),
                    "T": t,
                    "p": p,
                    "model": identity["sha256"],
                },
                partial(self._sampled, model, identity, cfg.n, t, p),
            )
        if cfg.n_prompts:
            made.update(self._prompted(model, identity))
        for run, snaps in snapshots.items():
            for snap in snaps:
                snap_model, snap_id = self._load(Path(snap["path"]))
                for t in cfg.snapshot_temperatures:
                    name = D.snapshot(run, snap["step"], t)
                    # Temperature 1 keeps the key it had before snapshot temperatures existed.
                    key = {"bars": cfg.bars, "n": cfg.snapshot_n, "seeds": [cfg.seed], "model": snap_id["sha256"]}
                    made[name] = self._make(
                        name,
                        key if t == 1 else {**key, "T": t},
                        partial(self._sampled, snap_model, snap_id, cfg.snapshot_n, t, seeds=(cfg.seed,)),
                    )
        return made

    def _prompted(self, model: GenerativeModel, identity: dict[str, Any]) -> dict[str, C.Condition]:
        cfg, corpus = self.config, self.corpus
        chosen = C.prompt_pieces(corpus, cfg.n_prompts, cfg.prompt_bars, cfg.bars, cfg.seed)
        prompts = [C._canonical(corpus.tokenizer, corpus.test[i]) for i in chosen]
        groups = [C._group_of(corpus.test[i]) for i in chosen]
        key = {
            "bars": cfg.bars,
            "prompts": [Path(corpus.test[i].source or str(i)).name for i in chosen],
            "prompt_bars": cfg.prompt_bars,
            "seed": cfg.seed,
        }

        def by_model() -> tuple[Any, ...]:
            pieces, sidecars = C.continue_prompts(
                model, corpus.tokenizer, prompts, cfg.prompt_bars, cfg.bars, cfg.seed, identity
            )
            return pieces, groups, {"n_prompts": len(prompts)}, sidecars

        def by_human() -> tuple[Any, ...]:
            cont = [p.crop_bars(cfg.prompt_bars, cfg.bars - cfg.prompt_bars) for p in prompts]
            return cont, groups, {"n_prompts": len(prompts)}, None

        return {
            D.PROMPTED_MODEL: self._make(D.PROMPTED_MODEL, {**key, "model": identity["sha256"]}, by_model),
            D.PROMPTED_HUMAN: self._make(D.PROMPTED_HUMAN, key, by_human),
        }

    def _patchworks(self, n: int, chunk_bars: int) -> tuple[Any, ...]:
        cfg = self.config
        return _own(C.patchworks(self.corpus.train, n, chunk_bars, cfg.bars, cfg.seed)), None, {}, None

    def _sampled(
        self,
        model: GenerativeModel,
        identity: dict[str, Any],
        n: int,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seeds: tuple[int, ...] | None = None,
    ) -> tuple[Any, ...]:
        pieces, sidecars, summary = C.sample_distinct(
            model,
            self.corpus.tokenizer,
            n,
            self.config.bars,
            seeds or self.config.sample_seeds,
            temperature,
            top_p,
            identity,
        )
        return _own(pieces), None, summary, sidecars

    def _make(self, name: str, settings: dict[str, Any], build: Callable[[], tuple[Any, ...]]) -> C.Condition:
        folder = self.folder / "pieces" / name
        key = self._key("condition", name, json.dumps(settings, sort_keys=True))
        found = C.load_condition(folder, key)
        if found is not None:
            return found
        self.say(f"   {name}")
        pieces, groups, info, sidecars = build()
        if groups is None:
            groups = [f"{name}/{i}" for i in range(len(pieces))]
        return C.save_condition(folder, key, pieces, groups, {**info, "settings": settings}, sidecars)

    def _train_sequences(self) -> list[Any]:
        from remixmusic.data.tokens import encode_pieces

        return encode_pieces(self.corpus.tokenizer, self.corpus.train)

    def _load(self, path: Path | None) -> tuple[GenerativeModel, dict[str, Any]]:
        from remixmusic.generation.loading import load_model

        model, tokenizer, identity = load_model(path)
        if tokenizer.config != self.corpus.tokenizer.config:
            raise RemixError(f"{path}: its tokenizer differs from the experiment's")
        identity = dict(identity)
        identity["sha256"] = identity["weights_sha256"]  # what the cache keys name the model by
        return model, identity

    # -- stage 4 --------------------------------------------------------------------------------------
    def _measure(self, made: dict[str, C.Condition]) -> dict[str, Measured]:
        """Every condition analysed (cached per condition) and its quality measured (cached apart, under
        :data:`~remixmusic.experiment.measure.QUALITY_VERSION`, so a new quality judge reruns only
        itself)."""
        from remixmusic.data.tokens import encode_pieces
        from remixmusic.evaluation.descriptors import describe_pieces
        from remixmusic.evaluation.melodic import melodic_matrix
        from remixmusic.novelty.config import MATCHER_VERSION, AnalysisConfig

        cfg, tok = self.config, self.corpus.tokenizer
        measured: dict[str, Measured] = {}
        judged: tuple[Any, ...] | None = None
        # The analysis settings and the matcher's version are part of the key: a changed default (e.g.
        # matching) or a change to what matching labels reanalyses.
        from remixmusic.music.lines import LINES_VERSION

        analysis = json.dumps(AnalysisConfig().to_dict(), sort_keys=True) + MATCHER_VERSION + f"lines{LINES_VERSION}"
        for name, cond in made.items():  # the human control comes first
            settings = json.dumps(cond.info.get("settings", {}), sort_keys=True)
            key = self._key("measured", name, settings, str(cfg.seed), analysis)
            cached = self._cached(f"measured/{name}.json", key)
            if cached is not None:
                m = Measured.from_dict(cached)
            else:
                self.say(f"   analysing {name} ({len(cond.pieces)} pieces)")
                m = analyse_condition(
                    cond,
                    self.index,
                    human=name in (D.HUMAN, D.PROMPTED_HUMAN),
                    seed=cfg.seed,
                    jobs=self.jobs,
                    show_progress=self.show_progress,
                    report_folder=self.folder / "analysis" / name,
                )
                self._store(f"measured/{name}.json", key, m.to_dict())
            qkey = self._key("quality", QUALITY_VERSION, name, settings, str(cfg.seed))
            quality = self._cached(f"quality/{name}.json", qkey)
            if quality is None:
                if judged is None:
                    hm = m if name == D.HUMAN else measured[D.HUMAN]
                    kept = [p for p, leak in zip(made[D.HUMAN].pieces, hm.leaked, strict=True) if not leak]
                    judge = fit_judge(encode_pieces(tok, self.corpus.valid), tok.vocab_size, tok.bos_id)
                    judged = (describe_pieces(kept), judge, melodic_matrix(kept))
                human_stats, judge, human_melodic = judged
                quality = quality_of(cond, human_stats, judge, tok, cfg.seed, human_melodic)
                self._store(f"quality/{name}.json", qkey, quality)
            m.quality = quality
            measured[name] = m
        return measured

    # -- stage 5 --------------------------------------------------------------------------------------
    def _answer(self, measured: dict[str, Measured], snapshots: dict[str, list[dict[str, Any]]]) -> list[Any]:
        cfg = self.config
        q1 = question1(measured, cfg.patchwork_bars, cfg.alpha, cfg.min_pieces, cfg.seed)
        settings = [measured[D.transformer(t, p)] for t, p in cfg.settings()]
        temps = cfg.snapshot_temperatures
        settings += [
            measured[D.snapshot(run, s["step"], t)] for run, snaps in snapshots.items() for s in snaps for t in temps
        ]
        q2 = question2(settings, cfg.min_settings, cfg.seed)
        runs = {
            D.curve(run, t): [(s, measured[D.snapshot(run, s["step"], t)]) for s in snaps]
            for run, snaps in snapshots.items()
            for t in temps
        }
        best = {
            D.curve(run, t): (snaps[0]["best_step"] if snaps else None)
            for run, snaps in snapshots.items()
            for t in temps
        }
        q3 = question3(runs, measured[D.HUMAN], best, cfg.alpha, cfg.min_pieces, cfg.seed)
        return [q1, q2, q3]

    def _result(
        self,
        measured: dict[str, Measured],
        answers: list[Any],
        snapshots: dict[str, list[dict[str, Any]]],
        infos: dict[str, dict[str, Any]],
    ) -> ExperimentResult:
        from remixmusic.generation.checkpoint import package_versions

        return ExperimentResult(
            config=self.config,
            dataset={
                "name": self.data.name,
                "manifest_hash": self.data.manifest_hash,
                "n_train": len(self.corpus.train),
                "n_valid": len(self.corpus.valid),
                "n_test": len(self.corpus.test),
                "n_human": len(self.corpus.human),
                "melody_duplicates_removed": self.corpus.melody_duplicates,
            },
            main_checkpoint=str(self.main_path or ""),
            measured=measured,
            answers=answers,
            snapshots=snapshots,
            conditions=infos,
            timings=dict(self.timings),
            versions=package_versions(),
        )

    # -- caching --------------------------------------------------------------------------------------
    def _key(self, *parts: str) -> str:
        return hashlib.sha256("\0".join((self.data.manifest_hash, *parts)).encode()).hexdigest()

    def _cached(self, name: str, key: str | None) -> Any:
        try:
            data = json.loads((self.folder / name).read_text())
        except (OSError, ValueError):
            return None
        return data.get("value") if key is None or data.get("key") == key else None

    def _store(self, name: str, key: str, value: Any) -> None:
        write_json(self.folder / name, {"key": key, "value": value})


def _main_run_name(config: ExperimentConfig) -> str:
    """The folder name of the main training run."""
    from remixmusic.experiment.config import RunSpec

    return RunSpec.parse(config.main_run).name


def _own(pieces: list[Any]) -> list[Any]:
    """Pieces with their dataset source dropped, so each is its own tune group."""
    for p in pieces:
        p.metadata.pop("group", None)
    return pieces
