"""``remixmusic experiment``: how much, and at what granularity, does a transformer remix its training
data; does quality go with remixing; when does a model start to copy?"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from remixmusic.cli.common import JobsOption, console, console_err, out_option


def register(app: typer.Typer) -> None:
    @app.command("experiment")
    def experiment_command(
        dataset: Annotated[
            str | None, typer.Option("--dataset", help="Dataset name or folder (default: bach-chorales).")
        ] = None,
        config_file: Annotated[
            Path | None,
            typer.Option(
                "--config", help="JSON file of ExperimentConfig fields (options given here override it)."
            ),
        ] = None,
        checkpoint: Annotated[
            str | None,
            typer.Option(
                "--checkpoint",
                help="Main transformer (default: the shipped one if trained on the dataset, else the main "
                "training run's best weights).",
            ),
        ] = None,
        quick: Annotated[
            bool, typer.Option("--quick", help="The whole pipeline, cut down to run in minutes.")
        ] = False,
        stop_after_training: Annotated[
            bool, typer.Option("--train-only", help="Stop after the training runs (resume later).")
        ] = False,
        docs: Annotated[
            Path | None,
            typer.Option(
                "--docs",
                help="Also write the Markdown result to DOCS/results/DATASET/ and rebuild DOCS/results.md.",
            ),
        ] = None,
        seed: Annotated[
            int | None, typer.Option("--seed", help="Random seed; the same seed gives the same numbers.")
        ] = None,
        jobs: JobsOption = 0,
        out: Annotated[Path, out_option("Output folder; an earlier run there is resumed.")] = Path(
            "experiments/run"
        ),
    ) -> None:
        """Run (or resume) the experiment: every stage is cached in the output folder."""
        from dataclasses import replace

        from remixmusic.experiment.config import ExperimentConfig
        from remixmusic.experiment.docs import write_docs
        from remixmusic.experiment.run import run_experiment

        config = ExperimentConfig.load(config_file) if config_file else ExperimentConfig()
        if quick:
            config = config.quick()
        overrides: dict[str, Any] = {
            k: v
            for k, v in (("dataset", dataset), ("checkpoint", checkpoint), ("seed", seed))
            if v is not None
        }
        config = replace(config, **overrides)  # bad settings fail here, before anything is loaded
        result = run_experiment(
            config,
            out,
            jobs=jobs,
            stop_after="training" if stop_after_training else None,
            log=lambda line: console_err.print(f"[bold cyan]{line}[/bold cyan]", highlight=False),
        )
        if stop_after_training:
            console.print(
                f"training runs done in {out}/runs; run the same command without --train-only to go on"
            )
            return
        for answer in result.answers:
            console.print(f"[bold]{answer.question}[/bold] {answer.outcome}", highlight=False)
            console.print(answer.text, highlight=False, markup=False)
        command = "remixmusic " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        if docs is not None:
            written = write_docs(result, out, docs, command)
            console.print(f"wrote {written}", highlight=False)
        console.print(f"wrote {out}/experiment.html, results.json and results.md", highlight=False)
