"""Text-based recommendation (``task.type=recommend``): registered here, beside its code."""

from tunewise.tasks.base import register_task
from tunewise.tasks.recommend.predictor import RecommendPredictor
from tunewise.tasks.recommend.serving import ROUTE
from tunewise.tasks.recommend.task import RecommendTask

RecommendTask.route = ROUTE
RecommendTask.predictor_class = RecommendPredictor
register_task(RecommendTask)

__all__ = ["RecommendTask"]
