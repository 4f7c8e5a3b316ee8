"""The web studio: runs, live curves, reports, comparisons and a playground, on the registry."""
