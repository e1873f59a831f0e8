"""Constraint frames: the NormBank grammar, the vocabulary's semantics, and non-monotonic resolution."""
