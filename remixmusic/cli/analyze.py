"""``remixmusic index`` and ``remixmusic analyze``: how much of a MIDI folder is recombined from a corpus."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from remixmusic.cli.common import JobsOption, SeedOption, StrictOption, console, out_option, report_skipped
from remixmusic.errors import output_folder
from remixmusic.music.lines import DEFAULT_LINES
from remixmusic.novelty.symbols import COMPARED_WORDS, DEFAULT_INVARIANCE

# The choices mirror remixmusic.novelty.symbols.INVARIANCES, remixmusic.music.lines.LINE_MODES and
# remixmusic.novelty.segment.METHODS (tests/test_cli.py keeps them equal); as enums, typer lists them in
# --help and rejects any other value with exit 2 before the command runs.


class Invariance(StrEnum):
    """What a copy may change (see :data:`remixmusic.novelty.symbols.INVARIANCES`)."""

    exact = "exact"
    transposed = "transposed"
    transposed_tempo = "transposed+tempo"
    rhythm = "rhythm"
    contour = "contour"
    intervals = "intervals"


class Lines(StrEnum):
    """How melodic lines are taken from a piece (see :data:`remixmusic.music.lines.LINE_MODES`)."""

    melody = "melody"
    merged_voices = "merged-voices"
    skyline = "skyline"
    voices = "voices"


class Timing(StrEnum):
    """How onsets are read for matching (see :data:`remixmusic.music.beats.TIMINGS`)."""

    file = "file"
    tracked = "tracked"


class Segmentation(StrEnum):
    """How lines are cut into motifs (see :data:`remixmusic.novelty.segment.METHODS`)."""

    lbdm = "lbdm"
    fixed = "fixed"
    surprisal = "surprisal"


DEFAULT_INVARIANCE_CHOICE = Invariance(DEFAULT_INVARIANCE)
DEFAULT_LINES_CHOICE = Lines(DEFAULT_LINES)
INVARIANCE_HELP = (
    "What a copy must keep: "
    + "; ".join(f"{name} = {words}" for name, words in COMPARED_WORDS.items())
    + ". All but exact allow any key; transposed+tempo, rhythm, contour and intervals any tempo."
)
LINES_HELP = (
    "Melodic lines read from each piece: voices = every voice of every track (chords split from the top "
    "down, the lowest note a bass line); melody = the highest sounding note, all tracks together; merged-voices = all tracks together, "
    "split into voices; skyline = the top line of each track."
)
INDEX_DEFAULT = " Default: {}, or with --against the index's."


def register(app: typer.Typer) -> None:
    @app.command("index")
    def index_cmd(
        reference: Annotated[
            str, typer.Argument(help="MIDI folder or dataset name (its train split) to index.")
        ],
        out: Annotated[Path, out_option("Index folder to write.")] = Path("ref.idx"),
        invariance: Annotated[
            Invariance, typer.Option("--invariance", help=INVARIANCE_HELP)
        ] = DEFAULT_INVARIANCE_CHOICE,
        lines: Annotated[Lines, typer.Option("--lines", help=LINES_HELP)] = DEFAULT_LINES_CHOICE,
        timing: Annotated[
            Timing,
            typer.Option(
                "--timing",
                help="file: onsets on the file's beat. tracked: reference pieces played with free timing "
                "re-quantized on a beat tracked in their notes (a reference of performances).",
            ),
        ] = Timing.file,
        jobs: JobsOption = 0,
        strict: StrictOption = False,
    ) -> None:
        """Build a reference index once, for any number of analyses (--against)."""
        from remixmusic.novelty.analyze import build_index

        index, skipped = build_index(reference, invariance.value, lines.value, jobs, show_progress=True, timing=timing.value)
        index.save(out)
        console.print(
            f"indexed {index.n_pieces} pieces, {index.n_slots} note slots ({invariance.value}, {lines.value}); "
            f"chance match length {index.chance_length} symbols, {index.chance_bits:.1f} bits; "
            f"{index.nbytes / max(1, index.n_slots):.0f} bytes "
            f"per note; wrote {out}",
            highlight=False,
        )
        report_skipped(skipped, strict)

    @app.command("analyze")
    def analyze_cmd(
        query: Annotated[Path, typer.Argument(help="Folder of MIDI files to analyze (searched recursively).")],
        against: Annotated[
            str | None,
            typer.Option(
                "--against",
                help="Reference: an index folder, a MIDI folder or a dataset name. Default: the training "
                "data of the checkpoint named in the query's generation sidecars.",
            ),
        ] = None,
        out: Annotated[
            Path, out_option("Output folder for report.json, CSVs and report.html.")
        ] = Path("analysis"),
        control: Annotated[
            Path | None,
            typer.Option(
                "--control",
                help="Human control: a folder, or a dataset name for its held-out (test) split (default with "
                "no --against: the held-out split of the generating model's dataset).",
            ),
        ] = None,
        invariance: Annotated[
            Invariance | None,
            typer.Option("--invariance", help=INVARIANCE_HELP + INDEX_DEFAULT.format(DEFAULT_INVARIANCE)),
        ] = None,
        lines: Annotated[
            Lines | None, typer.Option("--lines", help=LINES_HELP + INDEX_DEFAULT.format(DEFAULT_LINES))
        ] = None,
        segmentation: Annotated[
            Segmentation, typer.Option("--segmentation", help="How lines are cut into motifs.")
        ] = Segmentation.lbdm,
        originality: Annotated[
            bool,
            typer.Option(
                "--originality/--no-originality", help="Also compute the Yin et al. originality score."
            ),
        ] = True,
        max_edits: Annotated[
            int | None,
            typer.Option(
                "--max-edits",
                min=0,
                max=8,
                help="Most edits (a changed, missing or added note, an ornament) of one varied copy. Default 2; "
                "4 keeps a long copy with a grace note every 10 notes whole, at the cost of about 1% of the "
                "recall of copies with 2 edits or fewer and about a third more chance varied copies in "
                "style-matched random pieces (benchmarks/attribution.py --sweep max_edits=2,4).",
            ),
        ] = None,
        timing: Annotated[
            Timing,
            typer.Option(
                "--timing",
                help="file: onsets on the file's beat. tracked: pieces played with free timing (a recording "
                "without a click, at a tempo not the file's; report.json's off_grid) are re-quantized on a "
                "beat tracked in their notes, so copies are compared with their rhythm (query, control and "
                "a reference indexed here, not a saved index; positions in their outputs are tracked beats).",
            ),
        ] = Timing.file,
        jobs: JobsOption = 0,
        seed: SeedOption = 0,
        strict: StrictOption = False,
    ) -> None:
        """Label every motif of every piece copied/varied/stock/self-repeat/prompt/novel and compare with a control."""
        from remixmusic.experiment.provenance import analyze

        output_folder(out, "the analysis report")  # before the work, not after it
        match: dict[str, Any] = {} if max_edits is None else {"max_edits": max_edits}
        report = analyze(
            query,
            against,
            control=control,
            invariance=None if invariance is None else invariance.value,
            lines=None if lines is None else lines.value,
            segmentation=segmentation.value,
            originality=originality,
            jobs=jobs,
            seed=seed,
            timing=timing.value,
            **match,
        )
        report.save(out)
        report.print_summary(console)
        maps = ", note_maps.npz" if (out / "note_maps.npz").exists() else ""
        console.print(f"wrote {out}/report.html, report.json, pieces.csv, passages.csv, motifs.csv{maps}", highlight=False)
        report_skipped(report.skipped, strict)
