"""Learning from few labels: K-shot draws, learning curves across methods, what to label next."""
