"""Text regression (``--task regression``): registered here, beside its code."""

from tunewise.tasks.base import register_task
from tunewise.tasks.regression import doctor  # noqa: F401  (registers the target checks)
from tunewise.tasks.regression.predictor import RegressionPredictor
from tunewise.tasks.regression.serving import ROUTE
from tunewise.tasks.regression.task import RegressionTask

RegressionTask.route = ROUTE
RegressionTask.predictor_class = RegressionPredictor
register_task(RegressionTask)

__all__ = ["RegressionTask"]
