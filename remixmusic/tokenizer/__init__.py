"""REMI tokenization: the configuration, the tokenizer, and the grammar used for constrained decoding."""
