"""The end-to-end test of the remixing hypothesis, above both halves: design, run, verdicts, result, provenance."""
