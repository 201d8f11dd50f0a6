"""Novelty analysis (never imports torch): symbol streams, the reference index, matching, labels, originality, the report."""
