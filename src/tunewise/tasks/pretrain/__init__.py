"""Continued pretraining (``--task pretrain``, ``tunewise pretrain``): registered here."""

from tunewise.tasks.base import register_task
from tunewise.tasks.pretrain import doctor  # noqa: F401  (registers test_texts_in_text)
from tunewise.tasks.pretrain.predictor import PretrainPredictor
from tunewise.tasks.pretrain.serving import ROUTE
from tunewise.tasks.pretrain.task import PretrainTask

PretrainTask.route = ROUTE
PretrainTask.predictor_class = PretrainPredictor
register_task(PretrainTask)

__all__ = ["PretrainTask"]
