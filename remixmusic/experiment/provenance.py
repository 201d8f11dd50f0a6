"""Where generated music came from: sidecar -> checkpoint -> training dataset.

This is what lets ``remixmusic analyze generated/`` run with no other argument: the generation sidecars
name the checkpoint, the checkpoint's ``config.json`` names its training dataset (read as JSON, so no
torch is imported), and that dataset's train split is the reference and its held-out test split the
human control. It sits above both halves of the package: it reads generation metadata and calls the
novelty analysis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from remixmusic.data.datasets import load_dataset
from remixmusic.errors import RemixError
from remixmusic.generation.locate import find_model, training_dataset
from remixmusic.novelty.analyze import analyze as analyze_against
from remixmusic.novelty.inputs import PieceSet, PieceSource, ReferenceSource, read_pieces, read_sidecar
from remixmusic.novelty.report import AnalysisReport


def reference_from_generation(
    queries: PieceSet, control: PieceSource | None
) -> tuple[ReferenceSource, PieceSource]:
    """Reference and control for pieces written by ``remixmusic generate`` with any model (a transformer
    checkpoint, an n-gram or an ∞-gram).

    Returns ``(train files, control)``: the training split of the dataset the sidecars' model was
    trained on, and ``control`` or else that dataset's test split. The model is found by the name and
    content hash the sidecars record (:func:`~remixmusic.generation.locate.find_model`), so pieces of a
    shipped model lead back to it from any directory and machine.

    Raises:
        RemixError: the pieces do not name exactly one model, the model is gone or changed, records no
            dataset, or the dataset changed since training (its manifest hash differs).
    """
    models = [m for m in (read_sidecar(p).get("model") for p in queries.pieces) if isinstance(m, dict)]
    keys = {str(m.get("weights_sha256") or m.get("path") or "") for m in models} - {""}
    if len(keys) != 1:
        found = (
            "no generation sidecar names a model"
            if not keys
            else f"their generation sidecars name {len(keys)} different models"
        )
        raise RemixError(
            f"give the reference to compare with, e.g. --against bach-chorales (in Python: "
            f"analyze(query, 'bach-chorales')), a dataset name, an index folder or a MIDI folder: {found}, "
            "so it cannot be found from them"
        )
    identity = next(m for m in models if str(m.get("weights_sha256") or m.get("path") or "") in keys)
    sources = [p.source for p in queries.pieces if p.source]
    path = find_model(identity, base=Path(sources[0]).parent if sources else None)
    dataset_record = training_dataset(path)
    name = dataset_record.get("name")
    if not name:
        raise RemixError(f"{path}: the model does not record its training dataset; give --against")
    dataset = load_dataset(name)
    expected = dataset_record.get("manifest_hash")
    if expected and expected != dataset.manifest_hash:
        raise RemixError(f"dataset {name!r} changed since {path.name} was trained; give --against")
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
    the control (unless ``control`` is given). ``control`` may also be a dataset name (not a path that
    exists): its held-out (test) split.

    Raises:
        RemixError: no readable query piece; no reference given and none found from the sidecars; a
            ``control`` that is no file, folder or dataset.
    """
    if query is None:
        raise RemixError("give the query pieces (a MIDI folder, paths or pieces)")
    if isinstance(control, (str, Path)) and not Path(control).exists():  # a dataset name: its held-out split
        try:
            control = load_dataset(str(control)).files("test")
        except RemixError:
            raise RemixError(f"{control}: no such file, folder or dataset (for the control)") from None
    queries = read_pieces(query, jobs, show_progress)
    if not queries.pieces:
        raise RemixError(queries.none_read("query"))
    if reference is None:
        reference, control = reference_from_generation(queries, control)
    return analyze_against(queries, reference, control, jobs=jobs, show_progress=show_progress, **options)
