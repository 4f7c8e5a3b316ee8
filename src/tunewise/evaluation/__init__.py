"""Metrics over whole splits, baselines, and (with [doctor]) intervals and reports."""
