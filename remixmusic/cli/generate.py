"""``remixmusic generate``: sample MIDI files from the shipped model, a checkpoint or an n-gram model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from remixmusic.cli.common import console, out_option, seed_option


def register(app: typer.Typer) -> None:
    @app.command("generate")
    def generate_command(
        n: Annotated[int, typer.Option("-n", "--n", help="Number of pieces.")] = 4,
        bars: Annotated[
            int, typer.Option("--bars", help="Length in bars (after the prompt); 0 = no limit.")
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
        seed: int = seed_option(0),
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
                "--checkpoint", help="Checkpoint or n-gram model directory (default: the shipped one)."
            ),
        ] = None,
        batch_size: Annotated[int, typer.Option("--batch-size", help="Pieces decoded together.")] = 16,
        out: Path = out_option(Path("generated"), help="Output folder for piece_NNN.mid + .json sidecars."),
    ) -> None:
        """Write MIDI files sampled with grammar-constrained decoding, each with a JSON sidecar."""
        from remixmusic.midi import read_midi
        from remixmusic.sample import generate, load_model, write_generated

        model, tokenizer, identity = load_model(checkpoint)
        prompt_piece = read_midi(prompt) if prompt is not None else None
        results = generate(
            model,
            tokenizer,
            n,
            bars=bars or None,
            max_tokens=max_tokens,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            prompt=prompt_piece,
            prompt_bars=prompt_bars,
            include_prompt=not no_prompt_in_output,
            batch_size=batch_size,
        )
        paths = write_generated(results, out, identity)
        notes = sum(len(r.piece.notes) for r in results)
        console.print(f"wrote {len(paths)} MIDI files ({notes} notes) to {out} with {identity['id']}")
