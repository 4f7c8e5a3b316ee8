"""Text-based recommendation on the public API: ``fit`` (read, check, split, train the
``recommend`` task), ``eval`` (the table of every system, warm and cold) and ``predict``."""

from tunewise.apps.recommend.fit import fit
from tunewise.apps.recommend.use import evaluation, recommend

__all__ = ["evaluation", "fit", "recommend"]
