"""``remixmusic index`` and ``remixmusic analyze``: how much of a MIDI folder is recombined from a corpus."""

from __future__ import annotations

from pathlib import Path

import typer

from remixmusic.cli.common import console, jobs_option, out_option, report_skipped, seed_option, strict_option
from remixmusic.music.lines import DEFAULT_LINES, LINE_MODES
from remixmusic.novelty.segment import METHODS
from remixmusic.novelty.symbols import DEFAULT_INVARIANCE, INVARIANCES


def invariance_option(default: str | None) -> str | None:
    return typer.Option(
        default,
        "--invariance",
        help=f"What a copy may change: {', '.join(INVARIANCES)} (default {DEFAULT_INVARIANCE}, or the index's).",
    )


def lines_option(default: str | None) -> str | None:
    return typer.Option(
        default,
        "--lines",
        help=f"Melodic lines: {', '.join(LINE_MODES)} (default {DEFAULT_LINES}, or the index's).",
    )


def register(app: typer.Typer) -> None:
    @app.command("index")
    def index_cmd(
        reference: str = typer.Argument(..., help="MIDI folder or dataset name (its train split) to index."),
        out: Path = out_option(Path("ref.idx"), "Index folder to write."),
        invariance: str = invariance_option(DEFAULT_INVARIANCE),
        lines: str = lines_option(DEFAULT_LINES),
        jobs: int = jobs_option(),
        strict: bool = strict_option(),
    ) -> None:
        """Build a reference index once, for any number of analyses (--against)."""
        from remixmusic.novelty.analyze import build_index

        index, skipped = build_index(reference, invariance, lines, jobs, show_progress=True)
        index.save(out)
        console.print(
            f"indexed {index.n_pieces} pieces, {index.n_slots} note slots ({invariance}, {lines}); chance "
            f"match length {index.chance_length} symbols, {index.chance_bits:.1f} bits; "
            f"{index.nbytes / max(1, index.n_slots):.0f} bytes "
            f"per note; wrote {out}",
            highlight=False,
        )
        report_skipped(skipped, strict)

    @app.command("analyze")
    def analyze_cmd(
        query: Path = typer.Argument(..., help="Folder of MIDI files to analyze (searched recursively)."),
        against: str | None = typer.Option(
            None,
            "--against",
            help="Reference: an index folder, a MIDI folder or a dataset name. Default: the training data "
            "of the checkpoint named in the query's generation sidecars.",
        ),
        out: Path = out_option(Path("analysis"), "Output folder for report.json, CSVs and report.html."),
        control: Path | None = typer.Option(
            None, "--control", help="Human control folder (default with no --against: the held-out split)."
        ),
        invariance: str | None = invariance_option(None),
        lines: str | None = lines_option(None),
        segmentation: str = typer.Option("lbdm", "--segmentation", help=f"Motifs by {', '.join(METHODS)}."),
        originality: bool = typer.Option(
            True, "--originality/--no-originality", help="Also compute the Yin et al. originality score."
        ),
        jobs: int = jobs_option(),
        seed: int = seed_option(),
        strict: bool = strict_option(),
    ) -> None:
        """Label every motif of every piece copied/varied/stock/self-repeat/prompt/novel and compare with a control."""
        from remixmusic.experiment.provenance import analyze

        report = analyze(
            query,
            against,
            control=control,
            invariance=invariance,
            lines=lines,
            segmentation=segmentation,
            originality=originality,
            jobs=jobs,
            seed=seed,
        )
        report.save(out)
        report.print_summary(console)
        console.print(f"wrote {out}/report.html, report.json, pieces.csv, motifs.csv", highlight=False)
        report_skipped(report.skipped, strict)
