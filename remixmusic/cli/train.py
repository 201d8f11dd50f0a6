"""``remixmusic train``: train a transformer checkpoint on a dataset (a thin shell over ``remixmusic.train``)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from remixmusic.cli.common import console


class Preset(StrEnum):
    """Model sizes (mirrors :data:`remixmusic.generation.config.PRESETS`; tests/test_cli.py keeps them equal)."""

    tiny = "tiny"
    mini = "mini"
    small = "small"
    base = "base"


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_command(
        dataset: Annotated[str, typer.Argument(help="Dataset name or folder (trains on its train split).")],
        out: Annotated[
            Path | None,
            typer.Option("-o", "--out", help="Checkpoint directory (default: checkpoints/DATASET-PRESET)."),
        ] = None,
        preset: Annotated[Preset | None, typer.Option("--preset", help="Model size (default small).")] = None,
        device: Annotated[
            str | None, typer.Option("--device", help="auto (default), cpu, cuda, cuda:N or mps.")
        ] = None,
        steps: Annotated[int | None, typer.Option("--steps", help="Optimizer steps (default 1500).")] = None,
        max_minutes: Annotated[
            float | None,
            typer.Option("--max-minutes", help="Wall-clock budget; the learning rate decays to fit it."),
        ] = None,
        batch_size: Annotated[
            int | None, typer.Option("--batch-size", help="Windows per step (per process).")
        ] = None,
        lr: Annotated[float | None, typer.Option("--lr", help="Peak learning rate.")] = None,
        warmup: Annotated[int | None, typer.Option("--warmup", help="Warmup steps.")] = None,
        eval_interval: Annotated[
            int | None, typer.Option("--eval-interval", help="Steps between validations and saves.")
        ] = None,
        patience: Annotated[
            int | None,
            typer.Option("--patience", help="Stop after N validations without improvement (0 = never)."),
        ] = None,
        transpose: Annotated[
            int | None,
            typer.Option("--transpose", help="Largest random transposition in semitones (0 = off)."),
        ] = None,
        dropout: Annotated[
            float | None, typer.Option("--dropout", help="Override the preset's dropout.")
        ] = None,
        block_size: Annotated[
            int | None, typer.Option("--block-size", help="Override the preset's context length in tokens.")
        ] = None,
        threads: Annotated[int | None, typer.Option("--threads", help="CPU threads (0 = all cores).")] = None,
        seed: Annotated[int | None, typer.Option("--seed", help="Random seed (default 0).")] = None,
        resume: Annotated[
            bool, typer.Option("--resume", help="Continue an interrupted run in --out with its saved state.")
        ] = False,
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Replace an existing checkpoint.")
        ] = False,
    ) -> None:
        """Train a music transformer; Ctrl-C saves a state that --resume continues exactly."""
        from remixmusic.generation.training import train
        from remixmusic.generation.training.config import TrainConfig

        options = {
            "preset": None if preset is None else preset.value,
            "device": device,
            "max_steps": steps,
            "max_minutes": max_minutes,
            "batch_size": batch_size,
            "lr": lr,
            "warmup_steps": warmup,
            "eval_interval": eval_interval,
            "patience": patience,
            "transpose": transpose,
            "threads": threads,
            "seed": seed,
        }
        overrides: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
        model = {k: v for k, v in {"dropout": dropout, "block_size": block_size}.items() if v is not None}
        if model:
            overrides["model"] = model
        if out is None:
            out = Path("checkpoints") / f"{Path(dataset).name}-{options['preset'] or TrainConfig.preset}"
        result = train(dataset, out, resume=resume, overwrite=overwrite, **overrides)
        if not result.is_main:
            return
        if result.interrupted:
            console.print(
                f"interrupted at step {result.steps}; state saved in {out}. Continue with:\n"
                f"  remixmusic train {dataset} -o {out} --resume",
                highlight=False,
            )
            raise typer.Exit(130)
        metrics = result.metrics
        reason = "early stop" if result.stopped_early else "done"
        console.print(
            f"{reason}: {result.steps} steps, {result.tokens_seen:,} tokens in {result.wall_time_s / 60:.1f} min; "
            f"best step {result.best_step}: valid {metrics.get('valid_bits_per_note', float('nan')):.3f} bits/note"
            + (
                f", test {metrics['test_bits_per_note']:.3f} bits/note"
                if "test_bits_per_note" in metrics
                else ""
            )
            + f"\ncheckpoint: {out}",
            highlight=False,
        )
