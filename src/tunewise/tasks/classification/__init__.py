"""Sequence classification (``--task classification``): registered here, beside its code."""

from tunewise.tasks.base import register_task
from tunewise.tasks.classification.predictor import Predictor
from tunewise.tasks.classification.serving import ROUTE
from tunewise.tasks.classification.task import ClassificationTask

ClassificationTask.route = ROUTE
ClassificationTask.predictor_class = Predictor
register_task(ClassificationTask)

__all__ = ["ClassificationTask"]
