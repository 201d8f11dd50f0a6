"""The training loop: AdamW with warmup and cosine decay, evaluation, checkpoints and exact resume.

See :mod:`remixmusic.generation.training` for the recipe and its references.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from remixmusic.data.tokens import count_notes
from remixmusic.errors import CheckpointError, DatasetError, RemixError
from remixmusic.generation.checkpoint import load_train_state, load_weights, save_checkpoint
from remixmusic.generation.checkpoint_info import CONFIG_FILE, read_info
from remixmusic.generation.model import MusicTransformer
from remixmusic.generation.training.config import (
    LN2,
    METRICS_FILE,
    PLOT_FILE,
    EvalResult,
    StepInfo,
    TrainConfig,
    TrainResult,
    _Progress,
)
from remixmusic.generation.training.logs import _jsonl, _plot, _progress_bar, _record, _summary
from remixmusic.generation.training.runtime import (
    _Distributed,
    _init_distributed,
    _sigint_as_flag,
    cpu_threads,
    machine_description,
    resolve_device,
)
from remixmusic.tokenizer.remi import RemiTokenizer


class WindowSampler:
    """Random windows of ``length`` tokens from the concatenation of ``sequences``, with transposition.

    All processes of a distributed run hold the same generator state and draw the same global batch;
    :meth:`batch` returns this process's ``rank::world_size`` share.
    """

    def __init__(
        self,
        sequences: Sequence[np.ndarray],
        length: int,
        tokenizer: RemiTokenizer,
        max_transpose: int,
        seed: int,
    ) -> None:
        self.stream = np.concatenate([np.zeros(0, np.int64), *(np.asarray(s, np.int64) for s in sequences)])
        if len(self.stream) <= length:
            raise DatasetError(
                f"the training split has {len(self.stream)} tokens, fewer than one window of {length + 1}"
            )
        self.length = length
        self.tokenizer = tokenizer
        self.max_transpose = max_transpose
        self.rng = np.random.default_rng(seed)

    def batch(self, batch_size: int, rank: int = 0, world_size: int = 1) -> np.ndarray:
        total = batch_size * world_size
        starts = self.rng.integers(0, len(self.stream) - self.length, size=total)
        draws = self.rng.random(total)
        windows = []
        for i in range(rank, total, world_size):
            window = self.stream[starts[i] : starts[i] + self.length + 1]
            if self.max_transpose:
                low, high = self.tokenizer.transpose_range(window, self.max_transpose)
                if low < high:
                    window = self.tokenizer.transpose_ids(window, low + int(draws[i] * (high - low + 1)))
            windows.append(window)
        return np.stack(windows)


def eval_windows(sequences: Sequence[np.ndarray], block_size: int) -> list[tuple[np.ndarray, int]]:
    """Strided sliding windows that score every token after BOS once: ``(tokens, first_scored)``.

    ``tokens`` has at most ``block_size + 1`` entries (inputs plus shifted targets); targets at index
    ``>= first_scored`` (within the target row) are new in this window. Windows after a piece's first
    advance by ``block_size // 2`` tokens, so every scored token sees at least that much context.
    """
    stride = max(1, block_size // 2)
    windows = []
    for ids in sequences:
        last = len(ids) - 1  # index of the last target
        scored = 0  # targets 1..scored are done
        while scored < last:
            end = min(last, block_size if scored == 0 else scored + stride)
            start = max(0, end - block_size)
            windows.append((np.asarray(ids[start : end + 1], dtype=np.int64), scored - start))
            scored = end
    return windows


def learning_rate(config: TrainConfig, step: int, progress: float) -> float:
    """Linear warmup over ``warmup_steps``, then cosine decay to ``lr * min_lr_ratio`` as progress -> 1."""
    progress = min(max(progress, 0.0), 1.0)
    floor = config.lr * config.min_lr_ratio
    cosine = floor + (config.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
    warmup = min(1.0, (step + 1) / config.warmup_steps) if config.warmup_steps > 0 else 1.0
    return cosine * warmup


def make_optimizer(model: MusicTransformer, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on weight matrices and embeddings only (not on norm gains)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(
        groups, lr=config.lr, betas=(config.beta1, config.beta2), fused=device.type == "cuda"
    )


class Trainer:
    """Trains a model from a :class:`TrainConfig` on token sequences (see the module docstring).

    After :meth:`fit`, ``model_`` is the trained model (last weights, on the training device),
    ``best_weights_`` the state dict of the best validation loss (on CPU) and ``history_`` the logged
    records. ``callbacks`` run after every step with a :class:`StepInfo`; one that raises
    ``KeyboardInterrupt`` stops training as Ctrl-C does (state saved, resumable).
    """

    def __init__(
        self,
        config: TrainConfig | None = None,
        tokenizer: RemiTokenizer | None = None,
        callbacks: Sequence[Callable[[StepInfo], None]] = (),
        show_progress: bool = True,
    ) -> None:
        self.config = config or TrainConfig()
        self.tokenizer = tokenizer or RemiTokenizer()
        self.callbacks = list(callbacks)
        self.show_progress = show_progress

    def fit(
        self,
        train: Sequence[np.ndarray],
        valid: Sequence[np.ndarray],
        out: str | Path,
        *,
        test: Sequence[np.ndarray] | None = None,
        dataset: dict[str, Any] | None = None,
        resume: bool = False,
        overwrite: bool = False,
    ) -> TrainResult:
        """Train on ``train``, select on ``valid``, save to ``out``; report ``test`` metrics at the end.

        ``dataset`` is provenance recorded in the checkpoint (``name``, ``manifest_hash``, splits); on
        ``resume`` its manifest hash must match the one the run started with. Without ``resume`` or
        ``overwrite``, an existing ``out`` is an error.
        """
        if not valid:
            raise DatasetError("the validation split is empty; training needs it for evaluation")
        run = _Run(self, train, valid, test, Path(out), dataset, resume, overwrite)
        result = run.loop()
        self.model_, self.best_weights_, self.history_ = run.model, run.best_weights, run.state.history
        return result


class _Run:
    """The objects and state of one :meth:`Trainer.fit` call, with the loop split into small methods."""

    def __init__(
        self,
        trainer: Trainer,
        train: Sequence[np.ndarray],
        valid: Sequence[np.ndarray],
        test: Sequence[np.ndarray] | None,
        out: Path,
        dataset: dict[str, Any] | None,
        resume: bool,
        overwrite: bool,
    ) -> None:
        self.config = config = trainer.config
        self.tokenizer = trainer.tokenizer
        self.callbacks = trainer.callbacks
        self.show_progress = trainer.show_progress
        self.out, self.dataset, self.test = out, dataset, test
        self.ddp = _init_distributed(config.device)
        self.device = device = resolve_device(config.device)
        if self.ddp.enabled and device.type == "cuda":
            self.device = device = torch.device("cuda", self.ddp.local_rank)
            torch.cuda.set_device(device)
        if device.type == "cpu":
            torch.set_num_threads(cpu_threads(config.threads, self.ddp.local_world_size))
        if device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True

        self.model_config = config.model_config(self.tokenizer.vocab_size)
        torch.manual_seed(config.seed + self.ddp.rank)
        self.model = MusicTransformer(self.model_config).to(device)
        self.optimizer = make_optimizer(self.model, config, device)
        self.sampler = WindowSampler(
            train, self.model_config.block_size, self.tokenizer, config.transpose, config.seed
        )
        self.state = _Progress()
        self.best_weights: dict[str, torch.Tensor] | None = None
        if resume:
            self._restore()
        elif self.ddp.is_main and not overwrite:
            _check_fresh_output(out)

        self.wrapped: torch.nn.Module = self.model
        if self.ddp.enabled:
            ids = [device.index] if device.type == "cuda" else None
            self.wrapped = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        use_bf16 = config.amp and device.type == "cuda" and torch.cuda.is_bf16_supported()
        self.autocast = torch.autocast("cuda", dtype=torch.bfloat16) if use_bf16 else nullcontext()
        self.valid_windows = eval_windows(valid, self.model_config.block_size)
        self.valid_notes = count_notes(self.tokenizer, valid)
        self.tokens_per_step = config.batch_size * self.ddp.world_size * self.model_config.block_size
        self.budget_s = config.max_minutes * 60 if config.max_minutes else None
        self.meta = {
            "parameters": self.model.num_parameters(),
            "device": str(device),
            "machine": machine_description(device),
            "world_size": self.ddp.world_size,
            "train_tokens": int(self.sampler.stream.size),
        }
        self.last_eval_step: int | None = None

    def loop(self) -> TrainResult:
        config, state = self.config, self.state
        stop = {"stop": False}
        interrupted = stopped_early = False
        started = time.perf_counter() - state.elapsed_s
        mark = (time.perf_counter(), state.tokens_seen)
        rate = 0.0
        bar = _progress_bar(disable=not (self.show_progress and self.ddp.is_main))
        self.model.train()
        with _sigint_as_flag(stop), bar:
            task = bar.add_task(
                "training", total=config.max_steps, completed=state.step, loss="", rate="", eta=""
            )
            try:
                while state.step < config.max_steps:
                    state.elapsed_s = time.perf_counter() - started
                    over_time = self.budget_s is not None and state.elapsed_s >= self.budget_s
                    if self._any_rank(stop["stop"] or over_time):
                        interrupted = not over_time
                        break
                    lr, loss = self._step()
                    state.elapsed_s = time.perf_counter() - started
                    state.pending_losses.append(loss)
                    if state.step % config.log_interval == 0:
                        now = time.perf_counter()
                        rate = (state.tokens_seen - mark[1]) / max(now - mark[0], 1e-9)
                        mark = (now, state.tokens_seen)
                        state.history.append(
                            _record(
                                state,
                                lr=lr,
                                train_loss=float(np.mean(state.pending_losses)),
                                tokens_per_s=rate,
                            )
                        )
                        state.pending_losses = []
                    bar.update(
                        task, completed=state.step, loss=f"{loss:.3f}", rate=f"{rate:,.0f}", eta=self._eta()
                    )
                    if state.step in config.snapshot_steps:
                        stopped_early = self._validate()
                        self._save_snapshot()
                        self._save()
                    elif state.step % config.eval_interval == 0:
                        stopped_early = self._validate()
                        self._save()
                    for callback in self.callbacks:
                        callback(StepInfo(state.step, loss, lr, state.tokens_seen, state.elapsed_s))
                    if stopped_early:
                        break
            except KeyboardInterrupt:
                interrupted = True
            state.elapsed_s = time.perf_counter() - started
        if interrupted:
            self._save()
            return self._result(interrupted=True)
        if self.last_eval_step != state.step:
            self._validate()
        final = self._test_metrics()
        self._save(final)
        return self._result(stopped_early=stopped_early, extra=final)

    def _step(self) -> tuple[float, float]:
        """One optimizer step; returns (learning rate, loss)."""
        config, state = self.config, self.state
        fraction = state.step / config.max_steps
        if self.budget_s is not None:
            fraction = max(fraction, state.elapsed_s / self.budget_s)
        lr = learning_rate(config, state.step, fraction)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        batch = torch.from_numpy(self.sampler.batch(config.batch_size, self.ddp.rank, self.ddp.world_size))
        batch = batch.to(self.device, non_blocking=True)
        with self.autocast:
            logits, _ = self.wrapped(batch[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1).float(), batch[:, 1:].flatten())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
        self.optimizer.step()
        state.step += 1
        state.tokens_seen += self.tokens_per_step
        return lr, loss.item()

    def _evaluate(
        self, windows: list[tuple[np.ndarray, int]], notes: int, model: MusicTransformer
    ) -> EvalResult:
        with self.autocast:
            return _evaluate(
                model,
                windows,
                notes,
                self.config.eval_batch_size,
                self.tokenizer.pad_id,
                self.device,
                self.ddp,
            )

    def _validate(self) -> bool:
        """Evaluate on the validation split, track the best weights; True when patience has run out."""
        state = self.state
        result = self._evaluate(self.valid_windows, self.valid_notes, self.model)
        self.last_eval_step = state.step
        state.history.append(_record(state, **result.as_metrics("valid")))
        if result.loss < state.best_loss:
            state.best_loss, state.best_step, state.bad_evals = result.loss, state.step, 0
            self.best_weights = _cpu_state(self.model)
        else:
            state.bad_evals += 1
        return 0 < self.config.patience <= state.bad_evals

    def _test_metrics(self) -> dict[str, float]:
        """Held-out test metrics of the best weights, when a test split was given."""
        if not self.test:
            return {}
        best = MusicTransformer(self.model_config).to(self.device)
        best.load_state_dict(self.best_weights or _cpu_state(self.model))
        windows = eval_windows(self.test, self.model_config.block_size)
        return self._evaluate(windows, count_notes(self.tokenizer, self.test), best).as_metrics("test")

    def _save(self, final: dict[str, Any] | None = None) -> None:
        """Write the checkpoint directory (rank 0 only): best weights, resumable state, log and plot."""
        rng = _gather_rng_states(self.ddp, self.device)
        if not self.ddp.is_main:
            return
        state = self.state
        train_state = {
            "model": _cpu_state(self.model),
            "optimizer": self.optimizer.state_dict(),
            "sampler_rng": self.sampler.rng.bit_generator.state,
            "torch_rng": rng,
            "progress": {k: v for k, v in asdict(state).items() if k != "history"},
            "history": json.dumps(state.history),
        }
        save_checkpoint(
            self.out,
            self.model,
            self.tokenizer,
            weights=self.best_weights,
            train_config=self.config.to_dict(),
            dataset=self.dataset,
            metrics={**self.meta, **_summary(state), **(final or {})},
            train_state=train_state,
            extra_files={METRICS_FILE: _jsonl(state.history), PLOT_FILE: _plot(state.history)},
        )

    def _save_snapshot(self) -> None:
        """The current weights as a checkpoint of their own in :func:`snapshot_dir` (rank 0 only), with the
        validation metrics just computed at this step."""
        if not self.ddp.is_main:
            return
        state = self.state
        valid = state.history[-1] if state.history else {}
        metrics = {
            **self.meta,
            "step": state.step,
            "tokens_seen": state.tokens_seen,
            **{k: v for k, v in valid.items() if k.startswith("valid_")},
        }
        save_checkpoint(
            snapshot_dir(self.out) / f"step-{state.step:06d}",
            self.model,
            self.tokenizer,
            train_config=self.config.to_dict(),
            dataset=self.dataset,
            metrics=metrics,
        )

    def _restore(self) -> None:
        """Load model, optimizer, data-order, RNG and progress state from ``out`` (see :meth:`_save`)."""
        info = read_info(self.out)
        if info.model_config != self.model_config:
            raise CheckpointError(f"{self.out}: was trained with a different model config; cannot resume")
        if info.tokenizer_config != self.tokenizer.config.to_dict():
            raise CheckpointError(f"{self.out}: was trained with a different tokenizer; cannot resume")
        if self.dataset and info.dataset.get("manifest_hash") != self.dataset.get("manifest_hash"):
            raise CheckpointError(f"{self.out}: the dataset changed since this run started; cannot resume")
        saved = load_train_state(self.out)
        try:
            self.model.load_state_dict(saved["model"])
            self.optimizer.load_state_dict(saved["optimizer"])
            self.sampler.rng.bit_generator.state = saved["sampler_rng"]
            progress = dict(saved["progress"])
            self.state = _Progress(**progress, history=json.loads(saved["history"]))
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{self.out}: inconsistent training state ({type(exc).__name__})") from None
        rngs = saved.get("torch_rng") or []
        if len(rngs) == self.ddp.world_size:
            _set_rng_state(rngs[self.ddp.rank], self.device)
        else:  # resumed with another number of processes: dropout noise restarts from a fresh seed
            torch.manual_seed(self.config.seed + self.ddp.rank + 7919 * self.state.step)
        if self.state.best_step is not None:
            self.best_weights = load_weights(self.out)

    def _any_rank(self, flag: bool) -> bool:
        """Whether any process wants to stop (so all leave the loop at the same step)."""
        if not self.ddp.enabled:
            return flag
        value = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def _eta(self) -> str:
        state = self.state
        if state.step == 0:
            return "?"
        remaining = (self.config.max_steps - state.step) * state.elapsed_s / state.step
        if self.budget_s is not None:
            remaining = min(remaining, max(0.0, self.budget_s - state.elapsed_s))
        return time.strftime("%H:%M:%S", time.gmtime(remaining))

    def _result(
        self, interrupted: bool = False, stopped_early: bool = False, extra: dict | None = None
    ) -> TrainResult:
        state = self.state
        if self.ddp.enabled:
            dist.barrier()
        return TrainResult(
            path=self.out,
            steps=state.step,
            tokens_seen=state.tokens_seen,
            wall_time_s=state.elapsed_s,
            best_step=state.best_step,
            metrics={**self.meta, **_summary(state), **(extra or {})},
            interrupted=interrupted,
            stopped_early=stopped_early,
            is_main=self.ddp.is_main,
        )


@torch.no_grad()
def _evaluate(
    model: MusicTransformer,
    windows: list[tuple[np.ndarray, int]],
    notes: int,
    batch_size: int,
    pad_id: int,
    device: torch.device,
    ddp: _Distributed,
) -> EvalResult:
    """Sum of target negative log-likelihoods over the windows (this rank's share, then all-reduced)."""
    was_training = model.training
    model.eval()
    nats = torch.zeros((), dtype=torch.float64, device=device)
    count = torch.zeros((), dtype=torch.float64, device=device)
    mine = windows[ddp.rank :: ddp.world_size]
    for i in range(0, len(mine), batch_size):
        chunk = mine[i : i + batch_size]
        width = max(len(tokens) for tokens, _ in chunk)
        ids = np.full((len(chunk), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(chunk), width - 1), dtype=bool)
        for row, (tokens, first) in enumerate(chunk):
            ids[row, : len(tokens)] = tokens
            mask[row, first : len(tokens) - 1] = True
        batch = torch.from_numpy(ids).to(device)
        logits, _ = model(batch[:, :-1])
        nll = F.cross_entropy(logits.float().transpose(1, 2), batch[:, 1:], reduction="none")
        weights = torch.from_numpy(mask).to(device)
        nats += (nll.double() * weights).sum()
        count += weights.sum()
    totals = torch.stack([nats, count])
    if ddp.enabled:
        dist.all_reduce(totals)
    model.train(was_training)
    total_nats, n_tokens = float(totals[0]), int(totals[1])
    return EvalResult(
        loss=total_nats / max(n_tokens, 1),
        bits_per_token=total_nats / LN2 / max(n_tokens, 1),
        bits_per_note=total_nats / LN2 / max(notes, 1),
        tokens=n_tokens,
        notes=notes,
    )


def snapshot_dir(out: str | Path) -> Path:
    """Where a run saving into ``out`` keeps the snapshots of ``TrainConfig.snapshot_steps``:
    ``<out>.snapshots/`` beside it (a checkpoint folder is replaced whole at every save)."""
    out = Path(out)
    return out.parent / f"{out.name}.snapshots"


@torch.no_grad()
def evaluate_model(
    model: MusicTransformer, sequences: Sequence[np.ndarray], tokenizer: RemiTokenizer, batch_size: int = 16
) -> EvalResult:
    """Held-out metrics of ``model`` on token ``sequences`` (each ``BOS ... EOS``), scored as training
    scores its validation split: every token after BOS, from strided windows of ``block_size`` tokens.
    Returns loss (nats/token), bits per token and bits per note (notes counted by the tokenizer)."""
    device = next(model.parameters()).device
    windows = eval_windows(list(sequences), model.config.block_size)
    notes = count_notes(tokenizer, list(sequences))
    return _evaluate(model, windows, notes, batch_size, tokenizer.pad_id, device, _Distributed())


def _cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _gather_rng_states(ddp: _Distributed, device: torch.device) -> list[dict[str, torch.Tensor]]:
    mine = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        mine["cuda"] = torch.cuda.get_rng_state(device)
    if not ddp.enabled:
        return [mine]
    states: list[Any] = [None] * ddp.world_size
    dist.all_gather_object(states, mine)
    return states


def _set_rng_state(saved: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(saved["cpu"])
    if device.type == "cuda" and "cuda" in saved:
        torch.cuda.set_rng_state(saved["cuda"], device)


def _check_fresh_output(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        hint = (
            "pass --resume to continue it or --overwrite"
            if (out / CONFIG_FILE).exists()
            else "choose another"
        )
        raise RemixError(f"{out}: already exists ({hint})")
