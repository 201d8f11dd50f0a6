"""Statistics and descriptors shared by analysis and experiment: significance tests, symbolic-music descriptors."""
