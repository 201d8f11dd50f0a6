"""``remixmusic dataset ...``: build, import, list and describe MIDI datasets (see remixmusic.corpora)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from remixmusic.cli.common import JobsOption, StrictOption, console, report_skipped
from remixmusic.data import build as building
from remixmusic.data import datasets
from remixmusic.errors import DatasetError

ROOT_HELP = (
    f"Datasets folder (default: ${datasets.ENV_ROOT}, else the repository's datasets/); the bundled "
    "bach-chorales is found whatever it is."
)


RootOption = Annotated[Path | None, typer.Option("--root", help=ROOT_HELP)]
# The datasets folder was -o/--out for build and import before: still accepted there, not listed.
OldRootOption = Annotated[Path | None, typer.Option("-o", "--out", hidden=True)]


def _root(root: Path | None, old: Path | None) -> Path | None:
    if root is not None and old is not None and root != old:
        raise typer.BadParameter("give the datasets folder once (--root)", param_hint="--root")
    return root if root is not None else old


def _summary(report: building.BuildReport, verb: str) -> None:
    counts = report.dataset.header["counts"]
    splits = ", ".join(f"{name} {n}" for name, n in counts["splits"].items())
    console.print(
        f"{verb} [bold]{report.dataset.name}[/bold] in {report.dataset.root}: {counts['pieces']} pieces "
        f"({report.written} written, {report.reused} resumed), {counts['notes']} notes, splits {splits}; "
        f"{counts['groups']} near-duplicate groups, {counts['pieces_in_multi_piece_groups']} pieces in "
        f"{counts['multi_piece_groups']} multi-piece groups; {report.seconds:.1f} s",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    dataset_app = typer.Typer(
        help="Build, import and inspect MIDI datasets.", no_args_is_help=True, rich_markup_mode=None
    )
    app.add_typer(dataset_app, name="dataset")

    @dataset_app.command("build")
    def build(
        name: Annotated[str, typer.Argument(help=f"Corpus to build: {', '.join(building.CORPORA)}.")],
        root: RootOption = None,
        jobs: JobsOption = 0,
        resume: Annotated[
            bool, typer.Option("--resume/--no-resume", help="Keep pieces an interrupted run wrote.")
        ] = True,
        strict: StrictOption = False,
        old_root: OldRootOption = None,
    ) -> None:
        """Convert a corpus shipped inside music21 into a MIDI dataset with a manifest and leak-free splits."""
        report = building.build_dataset(name, root=_root(root, old_root), jobs=jobs, resume=resume)
        _summary(report, "built")
        report_skipped(report.skipped, strict)

    @dataset_app.command("import")
    def import_(
        folder: Annotated[Path, typer.Argument(help="Folder of MIDI files (searched recursively).")],
        name: Annotated[str, typer.Argument(help="Name of the new dataset.")],
        root: RootOption = None,
        jobs: JobsOption = 0,
        strict: StrictOption = False,
        overwrite: Annotated[
            bool,
            typer.Option(
                "--overwrite",
                help="Replace an existing dataset of that name (only once the new one is complete).",
            ),
        ] = False,
        old_root: OldRootOption = None,
        force: Annotated[bool, typer.Option("--force", hidden=True)] = False,  # --overwrite's old name
    ) -> None:
        """Make a dataset from your own MIDI folder (searched recursively, symbolic links followed);
        unreadable files, dangling links and pieces with no pitched notes are listed and skipped. An
        interrupted import leaves nothing behind: run it again."""
        report = building.import_folder(
            folder, name, root=_root(root, old_root), jobs=jobs, overwrite=overwrite or force, strict=strict
        )
        _summary(report, "imported")
        repaired = [r for r in report.dataset.manifest if r.get("repairs")]
        for record in repaired:
            console.print(
                f"repaired {record['source']}: {'; '.join(record['repairs'])}", highlight=False, markup=False
            )
        report_skipped(report.skipped, strict)

    @dataset_app.command("list")
    def list_(root: RootOption = None) -> None:
        """Datasets that are built or bundled."""
        names = datasets.list_datasets(root)
        table = Table("dataset", "pieces", "description")
        for name in names:
            info = datasets.dataset_info(name, root)
            table.add_row(name, str(info.pieces), info.description)
        console.print(table)
        missing = [name for name in building.CORPORA if name not in names]
        if missing:
            console.print(
                f"not built yet: {', '.join(missing)} (remixmusic dataset build NAME)", highlight=False
            )

    @dataset_app.command("info")
    def info(
        name: Annotated[str, typer.Argument(help="Dataset name or folder.")],
        root: RootOption = None,
        verify: Annotated[
            bool, typer.Option("--verify", help="Also check every file against its checksum.")
        ] = False,
    ) -> None:
        """Pieces, notes, hours, splits and near-duplicate groups of a dataset."""
        summary = datasets.dataset_info(name, root)
        console.print(f"[bold]{summary.name}[/bold]: {summary.description}", highlight=False)
        table = Table()
        table.add_column("")
        for column in (*datasets.SPLITS, "total"):
            table.add_column(column, justify="right")
        table.add_row("pieces", *(str(summary.splits[s]) for s in datasets.SPLITS), str(summary.pieces))
        table.add_row("notes", *(str(summary.split_notes[s]) for s in datasets.SPLITS), str(summary.notes))
        console.print(table)
        console.print(
            f"{summary.hours:.2f} hours; {summary.groups} near-duplicate groups, "
            f"{summary.pieces_in_multi_piece_groups} pieces in {summary.multi_piece_groups} multi-piece groups; "
            f"{len(summary.failures)} failures; folder {summary.root}; manifest hash {summary.manifest_hash[:16]}",
            highlight=False,
        )
        if verify:
            problems = datasets.verify_dataset(datasets.load_dataset(name, root))
            if problems:
                report_skipped(problems, strict=False)
                raise DatasetError(f"{len(problems)} file(s) do not match the manifest")
            console.print("all files match the manifest")
