"""remixmusic: symbolic music generation and novelty testing.

How much of what a generative model writes is recombined from its training set? remixmusic trains and
samples small transformers on tokenized MIDI and measures, against an honest human control, how much of
any MIDI folder is made of phrases retrieved from a reference corpus.
"""

from remixmusic.analyze import AnalysisReport, analyze
from remixmusic.errors import CheckpointError, DatasetError, MidiError, RemixError
from remixmusic.index import Index
from remixmusic.midi import read_folder, read_midi, write_midi
from remixmusic.notes import NOTE_DTYPE, STEPS_PER_BEAT, Piece, Track

__version__ = "0.1.0"

__all__ = [
    "NOTE_DTYPE",
    "STEPS_PER_BEAT",
    "AnalysisReport",
    "CheckpointError",
    "DatasetError",
    "Index",
    "MidiError",
    "Piece",
    "RemixError",
    "Track",
    "__version__",
    "analyze",
    "read_folder",
    "read_midi",
    "write_midi",
]
