"""Where generated music came from: sidecar -> checkpoint -> training dataset.

This is what lets ``remixmusic analyze generated/`` run with no other argument: the generation sidecars
name the checkpoint, the checkpoint's ``config.json`` names its training dataset (read as JSON, so no
torch is imported), and that dataset's train split is the reference and its held-out test split the
human control. It sits above both halves of the package: it reads generation metadata and calls the
novelty analysis.
"""

from __future__ import annotations

from typing import Any

from remixmusic.data.datasets import load_dataset
from remixmusic.errors import RemixError
from remixmusic.generation.checkpoint_info import read_info
from remixmusic.novelty.analyze import analyze as analyze_against
from remixmusic.novelty.inputs import PieceSet, PieceSource, ReferenceSource, read_pieces, read_sidecar
from remixmusic.novelty.report import AnalysisReport


def reference_from_generation(
    queries: PieceSet, control: PieceSource | None
) -> tuple[ReferenceSource, PieceSource]:
    """Reference and control for pieces written by ``remixmusic generate``.

    Returns ``(train files, control)``: the training split of the dataset the sidecars' checkpoint was
    trained on, and ``control`` or else that dataset's test split.

    Raises:
        RemixError: the pieces do not name exactly one checkpoint, the checkpoint records no dataset,
            or the dataset changed since training (its manifest hash differs).
    """
    models = [read_sidecar(p).get("model") for p in queries.pieces]
    checkpoints = {str(m.get("path") or "") for m in models if isinstance(m, dict)} - {""}
    if len(checkpoints) != 1:
        raise RemixError(
            "give --against REF: the query pieces do not name exactly one checkpoint in generation sidecars"
        )
    info = read_info(checkpoints.pop())
    name = info.dataset.get("name")
    if not name:
        raise RemixError(f"{info.path}: the checkpoint does not record its training dataset; give --against")
    dataset = load_dataset(name)
    if info.dataset.get("manifest_hash") and info.dataset["manifest_hash"] != dataset.manifest_hash:
        raise RemixError(f"dataset {name!r} changed since {info.name} was trained; give --against")
    return dataset.files("train"), (control if control is not None else dataset.files("test"))


def analyze(
    query: PieceSource,
    reference: ReferenceSource | None = None,
    control: PieceSource | None = None,
    *,
    jobs: int = 0,
    show_progress: bool = True,
    **options: Any,
) -> AnalysisReport:
    """Analyze ``query`` against ``reference`` (see :func:`remixmusic.novelty.analyze.analyze`).

    With ``reference`` left out, the query must come from ``remixmusic generate``: its sidecars name the
    checkpoint, whose training dataset's train split becomes the reference and whose held-out (test) split
    the control (unless ``control`` is given).

    Raises:
        RemixError: no readable query piece, or no reference given and none found from the sidecars.
    """
    if query is None:
        raise RemixError("give the query pieces (a MIDI folder, paths or pieces)")
    queries = read_pieces(query, jobs, show_progress)
    if not queries.pieces:
        raise RemixError(f"no readable MIDI in the query ({len(queries.skipped)} file(s) skipped)")
    if reference is None:
        reference, control = reference_from_generation(queries, control)
    return analyze_against(queries, reference, control, jobs=jobs, show_progress=show_progress, **options)
