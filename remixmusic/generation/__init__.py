"""Generative models (the only subpackage that imports torch): transformer, checkpoints, training, sampling, baselines."""
