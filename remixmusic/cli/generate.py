"""``remixmusic generate``: sample MIDI files from the shipped model, a checkpoint, an n-gram or an ∞-gram;
``remixmusic ngram``: fit either count-based baseline."""

from __future__ import annotations

import warnings
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from remixmusic.cli.common import JobsOption, SeedOption, console, console_err, out_option


class Kind(StrEnum):
    """The count-based baseline ``remixmusic ngram`` fits."""

    kn = "kn"
    """Interpolated Kneser-Ney n-gram."""
    infini = "infini"
    """Unsmoothed longest-context ∞-gram (pure recombination)."""


def register(app: typer.Typer) -> None:
    @app.command("generate")
    def generate_command(
        n: Annotated[int, typer.Option("-n", "--n", help="Number of pieces.")] = 4,
        bars: Annotated[
            int,
            typer.Option(
                "--bars", help="Bars per piece after the prompt (fewer only if the model ends it); 0 = no limit."
            ),
        ] = 16,
        max_tokens: Annotated[
            int, typer.Option("--max-tokens", help="Longest token sequence per piece.")
        ] = 2048,
        temperature: Annotated[
            float, typer.Option("--temperature", help="Softmax temperature; 0 = greedy.")
        ] = 1.0,
        top_k: Annotated[
            int, typer.Option("--top-k", help="Sample from the k likeliest tokens; 0 = off.")
        ] = 0,
        top_p: Annotated[float, typer.Option("--top-p", help="Nucleus sampling mass; 1 = off.")] = 1.0,
        seed: SeedOption = 0,
        prompt: Annotated[
            Path | None, typer.Option("--prompt", help="A MIDI file whose first bars the pieces continue.")
        ] = None,
        prompt_bars: Annotated[int, typer.Option("--prompt-bars", help="How many bars of the prompt.")] = 4,
        no_prompt_in_output: Annotated[
            bool, typer.Option("--no-prompt-in-output", help="Write only the continuation.")
        ] = False,
        checkpoint: Annotated[
            Path | None,
            typer.Option(
                "--checkpoint",
                help="Checkpoint, n-gram or ∞-gram model directory, or a shipped checkpoint's name "
                "(default: bach-small).",
            ),
        ] = None,
        batch_size: Annotated[
            int, typer.Option("--batch-size", help="Pieces decoded together (the pieces do not depend on it).")
        ] = 16,
        out: Annotated[
            Path, out_option("Output folder for piece_NNN.mid + .json sidecars (new or empty).")
        ] = Path("generated"),
        overwrite: Annotated[
            bool,
            typer.Option("--overwrite", help="Replace the pieces an earlier run wrote in the output folder."),
        ] = False,
    ) -> None:
        """Write MIDI files sampled with grammar-constrained decoding, each with a JSON sidecar.

        Piece i of a seed is the same whatever -n and --batch-size are. Each piece has exactly --bars bars
        unless the model ends it sooner (listed, and recorded as n_bars in its sidecar).
        """
        from remixmusic.generation.loading import load_model
        from remixmusic.generation.sampling import SamplingConfig, check_output, generate, write_generated
        from remixmusic.io.midi import read_midi

        config = SamplingConfig(  # bad settings fail here, before the model is loaded
            n=n,
            bars=bars or None,
            max_tokens=max_tokens,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            batch_size=batch_size,
            prompt_bars=prompt_bars,
            include_prompt=not no_prompt_in_output,
        )
        check_output(out, overwrite)  # before the model loads and samples
        model, tokenizer, identity = load_model(checkpoint)
        with warnings.catch_warnings(record=True) as caught:  # repairs and prompt notes: one line each
            warnings.simplefilter("always")
            prompt_piece = read_midi(prompt) if prompt is not None else None
            results = generate(model, tokenizer, config, prompt=prompt_piece, show_progress=True)
        for warning in caught:
            console_err.print(f"warning: {warning.message}", highlight=False, markup=False)
        paths = write_generated(results, out, identity, overwrite=overwrite)
        notes = sum(len(r.piece.notes) for r in results)
        console.print(
            f"wrote {len(paths)} MIDI files ({notes} notes) to {out} with {identity['id']}", highlight=False
        )
        if config.bars is not None:
            _report_short(results, paths, config.bars)

    @app.command("ngram")
    def ngram_command(
        dataset: Annotated[
            str, typer.Argument(help="Dataset name or folder (train split fits, valid picks the order).")
        ],
        kind: Annotated[
            Kind,
            typer.Option(
                "--kind",
                help="kn: interpolated Kneser-Ney n-gram; infini: unsmoothed longest-context ∞-gram "
                "(pure recombination).",
            ),
        ] = Kind.kn,
        checkpoint: Annotated[
            Path | None,
            typer.Option(
                "--checkpoint",
                help="Use this transformer checkpoint's tokenizer: a folder or a shipped name "
                "(default: the shipped one's).",
            ),
        ] = None,
        max_order: Annotated[int, typer.Option("--max-order", help="kn: highest order counted.")] = 8,
        min_order: Annotated[int, typer.Option("--min-order", help="kn: lowest order considered.")] = 2,
        max_context: Annotated[
            int, typer.Option("--max-context", help="infini: longest context in tokens; 0 = unbounded.")
        ] = 0,
        transpose: Annotated[
            int, typer.Option("--transpose", help="Also count every transposition within +-T semitones.")
        ] = 0,
        update_card: Annotated[
            bool,
            typer.Option(
                "--update-card", help="kn: write the baseline's bits into the checkpoint's model card."
            ),
        ] = False,
        jobs: JobsOption = 0,
        out: Annotated[
            Path | None, out_option("Output directory (default: checkpoints/ngram-DATASET or infinigram-DATASET).")
        ] = None,
    ) -> None:
        """Fit a count-based baseline; `generate --checkpoint DIR` then samples from it."""
        from remixmusic.errors import RemixError
        from remixmusic.generation.checkpoint_info import read_info
        from remixmusic.generation.locate import resolve_model_path

        if kind is Kind.infini and update_card:
            raise RemixError("--update-card reports bits per note, which the ∞-gram has not (use --kind kn)")
        info = read_info(resolve_model_path(checkpoint))
        if kind is Kind.infini:
            _fit_infinigram(dataset, info, max_context or None, transpose, jobs, out)
        else:
            _fit_kn(dataset, info, max_order, min_order, transpose, update_card, jobs, out)


_WHY_SHORT = {"eos": "the model ended it", "max_tokens": "--max-tokens reached", "bars": "its last bar(s) empty"}


def _report_short(results: list[Any], paths: list[Path], bars: int) -> None:
    """List the pieces with fewer than ``bars`` bars, and why (on stderr, like other notices)."""
    short = [(r, p) for r, p in zip(results, paths, strict=True) if r.n_bars < bars]
    if not short:
        return
    console_err.print(
        f"[yellow]{len(short)} of {len(results)} piece(s) are shorter than --bars {bars}:[/yellow]", highlight=False
    )
    for result, path in short:
        unit = "bar" if result.n_bars == 1 else "bars"
        why = _WHY_SHORT.get(result.stop_reason, result.stop_reason)
        console_err.print(f"  {path.name}: {result.n_bars} {unit} ({why})", highlight=False, markup=False)


def _fit_infinigram(
    dataset: str, info: Any, max_context: int | None, transpose: int, jobs: int, out: Path | None
) -> None:
    from remixmusic.generation.baselines.infinigram import fit_infinigram

    model = fit_infinigram(dataset, info.tokenizer_config, max_context, transpose, jobs)
    out = out or Path("checkpoints") / f"infinigram-{Path(dataset).name}"
    model.save(out)
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in model.metadata["metrics"].items())
    context = "unbounded" if max_context is None else f"at most {max_context} tokens"
    console.print(
        f"∞-gram over {len(model.tokens_)} training tokens, context {context}; {metrics}; saved to {out}",
        highlight=False,
    )


def _fit_kn(
    dataset: str,
    info: Any,
    max_order: int,
    min_order: int,
    transpose: int,
    update_card: bool,
    jobs: int,
    out: Path | None,
) -> None:
    from remixmusic.generation.baselines.ngram import fit_ngram
    from remixmusic.generation.checkpoint import update_metrics

    model = fit_ngram(dataset, info.tokenizer_config, max_order, min_order, transpose, jobs)
    out = out or Path("checkpoints") / f"ngram-{Path(dataset).name}"
    model.save(out)
    metrics = model.metadata["metrics"]
    console.print(
        f"order {model.order_} (valid bits/token by order: "
        + ", ".join(f"{k}: {v:.3f}" for k, v in model.valid_bits_per_token_.items())
        + ")"
    )
    console.print(", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k != "order") + f"; saved to {out}")
    if update_card:
        # The card compares on the held-out test split; the valid figures chose the order.
        card = {
            "ngram_order": model.order_,
            "ngram_transpose": transpose,
            "ngram_bits_per_note": metrics["test_bits_per_note"],
            "ngram_bits_per_token": metrics["test_bits_per_token"],
            "ngram_valid_bits_per_note": metrics["valid_bits_per_note"],
            "ngram_valid_bits_per_token": metrics["valid_bits_per_token"],
        }
        update_metrics(info.path, card)
        console.print(f"updated the model card of {info.path}")
