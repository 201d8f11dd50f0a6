"""``remixmusic experiment``: transformer vs pure-recombination ∞-gram (and a KN n-gram) vs held-out human
music, with a verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from remixmusic.cli.common import JobsOption, SeedOption, console, out_option
from remixmusic.experiment.design import DEFAULT_INFINIGRAM_CONTEXT


def register(app: typer.Typer) -> None:
    @app.command("experiment")
    def experiment_command(
        checkpoint: Annotated[
            Path | None,
            typer.Option("--checkpoint", help="Transformer checkpoint (default: the shipped one)."),
        ] = None,
        n: Annotated[int, typer.Option("-n", "--n", help="Pieces generated per model.")] = 32,
        bars: Annotated[int, typer.Option("--bars", help="Length of every piece in bars.")] = 16,
        temperature: Annotated[
            float, typer.Option("--temperature", help="Softmax temperature of every model.")
        ] = 1.0,
        top_k: Annotated[int, typer.Option("--top-k", help="Top-k sampling of every model; 0 = off.")] = 0,
        top_p: Annotated[
            float, typer.Option("--top-p", help="Nucleus sampling mass of every model; 1 = off.")
        ] = 1.0,
        infinigram_context: Annotated[
            int,
            typer.Option(
                "--infinigram-context",
                help="Longest context of the pure-recombination ∞-gram, in tokens; 0 = unbounded.",
            ),
        ] = DEFAULT_INFINIGRAM_CONTEXT,
        ngram_order: Annotated[
            int | None,
            typer.Option("--ngram-order", help="KN n-gram order to sample with (default: best on valid)."),
        ] = None,
        dataset: Annotated[
            str | None,
            typer.Option(
                "--dataset", help="Dataset folder, when the checkpoint's dataset name is not found."
            ),
        ] = None,
        min_pieces: Annotated[
            int, typer.Option("--min-pieces", help="Fewest pieces per group for a verdict.")
        ] = 8,
        alpha: Annotated[
            float, typer.Option("--alpha", help="Significance level of the verdict's tests.")
        ] = 0.05,
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Replace an earlier experiment in the output folder.")
        ] = False,
        seed: SeedOption = 0,
        jobs: JobsOption = 0,
        out: Annotated[
            Path, out_option("Output folder (experiment.html and more).")
        ] = Path("experiments/run"),
    ) -> None:
        """Test whether the transformer recombines training phrases more than human music does."""
        from remixmusic.experiment.config import ExperimentConfig
        from remixmusic.experiment.run import run_experiment

        config = ExperimentConfig(  # bad settings fail here, before anything is loaded
            checkpoint=None if checkpoint is None else str(checkpoint),
            dataset=dataset,
            n=n,
            bars=bars,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            infinigram_context=infinigram_context or None,
            ngram_order=ngram_order,
            min_pieces=min_pieces,
            alpha=alpha,
        )
        result = run_experiment(
            config,
            out,
            jobs=jobs,
            overwrite=overwrite,
            log=lambda line: console.print(f"[bold cyan]{line}[/bold cyan]", highlight=False),
        )
        result.print_summary(console)
        console.print(
            f"wrote {out}/experiment.html, experiment.json, comparison.csv, positions.csv, coverage.png, "
            "measures.png and the per-group analyses",
            highlight=False,
        )
