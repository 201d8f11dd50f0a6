"""remixmusic: symbolic music generation and novelty testing.

How much of what a generative model writes is recombined from its training set? remixmusic trains and
samples small transformers on tokenized MIDI and measures, against an honest human control, how much of
any MIDI folder is made of phrases retrieved from a reference corpus.

The package has two halves over a shared base (see README.md, "Architecture"):
:mod:`remixmusic.generation` (needs torch) and :mod:`remixmusic.novelty` (does not), standing on
:mod:`remixmusic.music`, :mod:`remixmusic.io`, :mod:`remixmusic.tokenizer` and :mod:`remixmusic.data`;
:mod:`remixmusic.experiment` sits above both. ``import remixmusic`` never imports torch: the generation
names below are loaded on first use (PEP 562).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from remixmusic._util.meta import __version__
from remixmusic.data.datasets import Dataset, load_dataset
from remixmusic.errors import CheckpointError, DatasetError, MidiError, RemixError
from remixmusic.experiment.provenance import analyze
from remixmusic.io.folders import read_folder
from remixmusic.io.midi import read_midi, write_midi
from remixmusic.music.notes import NOTE_DTYPE, STEPS_PER_BEAT, Piece, Track
from remixmusic.novelty.index import Index
from remixmusic.novelty.report import AnalysisReport

if TYPE_CHECKING:
    from remixmusic.generation.loading import load_model
    from remixmusic.generation.sampling import SamplingConfig, generate, write_generated
    from remixmusic.generation.training import train

_LAZY = {
    "generate": "remixmusic.generation.sampling",
    "SamplingConfig": "remixmusic.generation.sampling",
    "write_generated": "remixmusic.generation.sampling",
    "load_model": "remixmusic.generation.loading",
    "train": "remixmusic.generation.training",
}


def __getattr__(name: str) -> Any:
    """Generation names, imported (with torch) only when first used."""
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'remixmusic' has no attribute {name!r}")


__all__ = [
    "NOTE_DTYPE",
    "STEPS_PER_BEAT",
    "AnalysisReport",
    "CheckpointError",
    "Dataset",
    "DatasetError",
    "Index",
    "MidiError",
    "Piece",
    "RemixError",
    "SamplingConfig",
    "Track",
    "__version__",
    "analyze",
    "generate",
    "load_dataset",
    "load_model",
    "read_folder",
    "read_midi",
    "train",
    "write_generated",
    "write_midi",
]
