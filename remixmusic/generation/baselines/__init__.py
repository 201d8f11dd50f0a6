"""Count-based baselines: the Kneser-Ney n-gram and the pure-recombination ∞-gram."""
