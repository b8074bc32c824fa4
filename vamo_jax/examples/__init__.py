"""Small self-contained examples: a tiny causal Transformer and the VAMO toy problem."""
