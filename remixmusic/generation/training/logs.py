"""Training logs: ``metrics.jsonl``, the loss plot and the progress bar.
"""

from __future__ import annotations

import io
import json
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from remixmusic._util.parallel import progress_console
from remixmusic.generation.training.config import _Progress


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
        console=progress_console(),
        disable=disable,
    )
