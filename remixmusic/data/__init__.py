"""Datasets (built from music21 corpora or imported), leak-free splits, and the token data trainers share."""
