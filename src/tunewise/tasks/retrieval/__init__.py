"""Passage (FAQ) retrieval (``--task retrieval``): registered here, beside its code."""

from tunewise.tasks.base import register_task
from tunewise.tasks.retrieval import doctor  # noqa: F401  (registers the pair checks)
from tunewise.tasks.retrieval.predictor import RetrievalPredictor
from tunewise.tasks.retrieval.serving import ROUTE
from tunewise.tasks.retrieval.task import RetrievalTask

RetrievalTask.route = ROUTE
RetrievalTask.predictor_class = RetrievalPredictor
register_task(RetrievalTask)

__all__ = ["RetrievalTask"]
