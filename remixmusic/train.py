"""Training a :class:`~remixmusic.model.MusicTransformer` on a dataset's token sequences.

The recipe is the GPT-2/nanoGPT one for small language models: random fixed-length windows of tokens,
AdamW (Loshchilov & Hutter 2019) with weight decay on matrices only, linear warmup then cosine decay
(Loshchilov & Hutter 2017), gradient-norm clipping, evaluation on the validation split at intervals,
early stopping, and pitch-transposition augmentation as in Music Transformer (Huang et al. 2019).

Data. Every piece is encoded to ``BOS ... EOS`` and the train split's pieces are concatenated into one
stream; a training example is a window of ``block_size + 1`` tokens at a uniformly random offset (input =
first ``block_size`` tokens, target = the same shifted by one), so every token is used, nothing is
padded, and the model learns where pieces end and start. Each window is transposed by a random number of
semitones that keeps all of its pitches in range (:meth:`RemiTokenizer.transpose_range`).

Evaluation scores every token of every held-out piece (after its BOS) with a strided sliding window, so
each token is predicted from at least ``block_size / 2`` tokens of its own piece. Reported: loss (nats
per token), bits per token, and bits per note = total nats over the split / ln 2 / number of notes,
which compares models whose tokenizations differ.

Output. ``out`` is one checkpoint directory (see :mod:`remixmusic.checkpoint`) rewritten atomically
at every evaluation: ``model.safetensors`` holds the best weights so far, ``train_state.pt`` the last
weights with the optimizer, data-order and RNG state, plus ``metrics.jsonl`` and ``loss.png``.

Interrupting and resuming. Ctrl-C (SIGINT) is caught between steps: the state is saved and
:func:`train` returns with ``interrupted=True``. ``train(..., resume=True)`` reloads the optimizer,
step, data-order and RNG state, and the learning rate is a pure function of the step, so an interrupted
and resumed run ends exactly where an uninterrupted one does (with ``max_minutes`` the schedule also
depends on elapsed time, so only step budgets are reproducible).

Several GPUs or machines. Run the same command under ``torchrun`` (the ``remixmusic`` console script is
the program it starts), e.g. on one node with 4 GPUs::

    torchrun --standalone --nproc_per_node 4 $(which remixmusic) train bach-chorales --preset base -o out

or on 2 nodes: ``torchrun --nnodes 2 --node_rank R --nproc_per_node 8 --rdzv_backend c10d
--rdzv_endpoint HOST:29500 $(which remixmusic) train ...``. Each process reads ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK`` from the environment, joins the process group (NCCL on CUDA, gloo on CPU) and wraps the
model in ``DistributedDataParallel``. All ranks draw the same random windows and each keeps its own
``rank::world_size`` share, so ``batch_size`` is per process and the global batch is ``batch_size *
world_size``; evaluation is sharded the same way and summed. Only rank 0 writes the checkpoint and shows
progress; ``out`` must be on a filesystem all nodes see for ``--resume``.
"""

from __future__ import annotations

import io
import json
import math
import os
import platform
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from remixmusic.checkpoint import (
    CONFIG_FILE,
    load_train_state,
    load_weights,
    read_info,
    save_checkpoint,
)
from remixmusic.errors import CheckpointError, DatasetError, RemixError
from remixmusic.model import ModelConfig, MusicTransformer, preset
from remixmusic.tokenizer import RemiTokenizer, TokenizerConfig

LN2 = math.log(2.0)
METRICS_FILE = "metrics.jsonl"
PLOT_FILE = "loss.png"


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters; saved in the checkpoint's ``config.json``."""

    preset: str = "small"
    """Model preset (see :data:`remixmusic.model.PRESETS`)."""
    model: dict[str, Any] = field(default_factory=dict)
    """Overrides of the preset's :class:`ModelConfig` fields (e.g. ``{"block_size": 256}``)."""
    max_steps: int = 1500
    max_minutes: float | None = None
    """Wall-clock budget; the cosine schedule then follows the larger of step and time progress."""
    batch_size: int = 8
    """Windows per optimizer step and process."""
    lr: float = 3e-3
    """Peak learning rate (3e-3 beat 1.5e-3 and 5e-3 for `small` on bach-chorales at equal tokens)."""
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    transpose: int = 6
    """Largest random transposition in semitones (0 = no augmentation)."""
    eval_interval: int = 100
    log_interval: int = 10
    eval_batch_size: int = 16
    patience: int = 6
    """Stop after this many evaluations without improvement of the validation loss (0 = never)."""
    seed: int = 0
    device: str = "auto"
    """``auto`` (CUDA, then MPS, then CPU), or any torch device name."""
    threads: int = 0
    """CPU threads for torch (0 = the cores available to this process, shared among local ranks)."""
    amp: bool = True
    """bfloat16 autocast on CUDA devices that support it (ignored elsewhere)."""

    def __post_init__(self) -> None:
        self.model_config(1)  # an unknown preset or model option fails here, before any data is read

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def model_config(self, vocab_size: int) -> ModelConfig:
        """The preset's model config with ``model`` overrides; a bad preset or option is a user error."""
        try:
            return preset(self.preset, vocab_size, **self.model)
        except (TypeError, ValueError) as exc:
            raise RemixError(f"invalid model configuration: {exc}") from None


@dataclass
class StepInfo:
    """What a callback sees after every optimizer step."""

    step: int
    loss: float
    lr: float
    tokens_seen: int
    elapsed_s: float


@dataclass
class EvalResult:
    loss: float
    bits_per_token: float
    bits_per_note: float
    tokens: int
    notes: int

    def as_metrics(self, prefix: str) -> dict[str, float]:
        return {
            f"{prefix}_loss": self.loss,
            f"{prefix}_bits_per_token": self.bits_per_token,
            f"{prefix}_bits_per_note": self.bits_per_note,
        }


@dataclass
class TrainResult:
    path: Path
    steps: int
    tokens_seen: int
    wall_time_s: float
    best_step: int | None
    metrics: dict[str, Any]
    interrupted: bool = False
    stopped_early: bool = False
    is_main: bool = True
    """False on the other processes of a distributed run (only the main one reports)."""


@dataclass
class _Progress:
    """Mutable training state, everything ``train_state.pt`` restores besides tensors."""

    step: int = 0
    tokens_seen: int = 0
    elapsed_s: float = 0.0
    best_loss: float = math.inf
    best_step: int | None = None
    bad_evals: int = 0
    pending_losses: list[float] = field(default_factory=list)
    """Losses of the steps since the last log record (so a resumed run logs the same averages)."""
    history: list[dict[str, Any]] = field(default_factory=list)


# -- data -------------------------------------------------------------------------------------------


def encode_pieces(tokenizer: RemiTokenizer, pieces: Sequence[Any]) -> list[np.ndarray]:
    return [tokenizer.encode(piece) for piece in pieces]


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
                low, high = self.tokenizer.transpose_range(window)
                low, high = max(low, -self.max_transpose), min(high, self.max_transpose)
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


def count_notes(tokenizer: RemiTokenizer, sequences: Sequence[np.ndarray]) -> int:
    total = 0
    for ids in sequences:
        notes = tokenizer.align(ids)
        total += len(np.unique(notes[notes >= 0]))
    return total


# -- runtime ----------------------------------------------------------------------------------------


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then CPU; an explicit name must be usable here."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise RemixError(f"unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RemixError(f"device {name!r} requested but CUDA is not available")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RemixError(f"device {name!r} requested but MPS is not available")
    return device


def cpu_threads(requested: int = 0, local_world_size: int = 1) -> int:
    """Threads for torch on CPU: the cores this process may use, split among the local ranks."""
    if requested > 0:
        return requested
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, local_world_size))


def machine_description(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {torch.get_num_threads()} threads" if device.type == "cpu" else f"{device.type}: {cpu}"


@dataclass
class _Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _init_distributed(device_name: str) -> _Distributed:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1 in the environment)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Distributed()
    info = _Distributed(
        rank=int(os.environ["RANK"]),
        world_size=world,
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", "1")),
    )
    if not dist.is_initialized():
        use_cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return info


@contextmanager
def _sigint_as_flag(flag: dict[str, bool]) -> Iterator[None]:
    """While training, the first Ctrl-C only sets ``flag['stop']`` (checked between steps, so the state
    saved is consistent); a second one interrupts at once."""

    def handler(signum: int, frame: Any) -> None:
        flag["stop"] = True
        signal.signal(signal.SIGINT, previous)

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: Ctrl-C cannot reach us here anyway
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


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


# -- the trainer ------------------------------------------------------------------------------------


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
                    if state.step % config.eval_interval == 0:
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


# -- evaluation, logging, helpers -------------------------------------------------------------------


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
    total_nats, tokens = float(totals[0]), int(totals[1])
    return EvalResult(
        loss=total_nats / max(tokens, 1),
        bits_per_token=total_nats / LN2 / max(tokens, 1),
        bits_per_note=total_nats / LN2 / max(notes, 1),
        tokens=tokens,
        notes=notes,
    )


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


def _record(state: _Progress, **values: Any) -> dict[str, Any]:
    return {"step": state.step, "tokens": state.tokens_seen, "elapsed_s": round(state.elapsed_s, 3), **values}


def _summary(state: _Progress) -> dict[str, Any]:
    """Checkpoint metrics: the best validation record plus how much training it took."""
    best = next(
        (r for r in state.history if r.get("step") == state.best_step and "valid_loss" in r),
        {},
    )
    return {
        **{k: v for k, v in best.items() if k.startswith("valid_")},
        "best_step": state.best_step,
        "steps": state.step,
        "tokens_seen": state.tokens_seen,
        "wall_time_s": round(state.elapsed_s, 1),
    }


def _jsonl(history: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(record) + "\n" for record in history).encode()


def _plot(history: list[dict[str, Any]]) -> bytes:
    """Loss curves (train loss per log interval, validation loss per evaluation) as PNG bytes.

    Drawn on a bare :class:`~matplotlib.figure.Figure` (no pyplot), so the caller's backend is left alone.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3.5), dpi=100)
    axes = figure.subplots()
    for key, label in (("train_loss", "train"), ("valid_loss", "valid")):
        points = [(r["step"], r[key]) for r in history if key in r]
        if points:
            steps, values = zip(*points, strict=True)
            axes.plot(steps, values, label=label, marker="o" if key == "valid_loss" else None, markersize=3)
    axes.set_xlabel("step")
    axes.set_ylabel("loss (nats/token)")
    axes.grid(alpha=0.3)
    if history:
        axes.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _progress_bar(disable: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("{task.fields[rate]} tok/s"),
        TimeElapsedColumn(),
        TextColumn("eta {task.fields[eta]}"),
        disable=disable,
    )


# -- from a dataset ---------------------------------------------------------------------------------


def train(
    dataset: str | Path,
    out: str | Path,
    config: TrainConfig | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    tokenizer_config: TokenizerConfig | None = None,
    callbacks: Sequence[Callable[[StepInfo], None]] = (),
    show_progress: bool = True,
    **overrides: Any,
) -> TrainResult:
    """Train on a dataset's ``train`` split, select on ``valid``, report ``test``; save to ``out``.

    ``overrides`` replace fields of ``config`` (default :class:`TrainConfig`). With ``resume`` the run
    continues from ``out`` with the configuration it was started with (plus ``overrides``: only
    ``max_steps``, ``max_minutes``, ``device`` and ``threads`` keep the result identical to an
    uninterrupted run). ``overwrite`` replaces an existing checkpoint at ``out``.
    """
    from remixmusic.corpora import load_dataset

    out = Path(out)
    if resume:
        if config is not None:
            raise ValueError("resume continues with the saved config; pass changes as keyword overrides")
        info = read_info(out)
        config = TrainConfig.from_dict(info.train_config)
        tokenizer = RemiTokenizer(TokenizerConfig.from_dict(info.tokenizer_config))
    else:
        config = config or TrainConfig()
        tokenizer = RemiTokenizer(tokenizer_config)
    try:
        config = replace(config, **overrides)
    except TypeError as exc:
        raise RemixError(f"unknown training option ({exc})") from None
    data = load_dataset(dataset)
    splits = {
        split: encode_pieces(tokenizer, data.pieces(split, show_progress=show_progress))
        for split in ("train", "valid", "test")
    }
    provenance = {
        "name": data.name,
        "manifest_hash": data.manifest_hash,
        "split": "train",
        "eval_split": "valid",
        "test_split": "test",
    }
    trainer = Trainer(config, tokenizer, callbacks=callbacks, show_progress=show_progress)
    return trainer.fit(
        splits["train"],
        splits["valid"],
        out,
        test=splits["test"],
        dataset=provenance,
        resume=resume,
        overwrite=overwrite,
    )
