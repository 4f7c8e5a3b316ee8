"""Models that keep learning: continuing a run on new data with a strategy, and what it forgets."""
