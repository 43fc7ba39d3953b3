"""Evaluation: the systems compared (MASCOT, its ablations, the paper's baselines) and their metrics."""
