"""Token classification (``--task tokens``, named entities): registered here, beside its code.

Everything the task owns lives in this folder: readers (``conll``), tag schemes (``tagging``),
reading and validating files (``data``), the doctor's checks (``doctor``), the task
(``task``), entity metrics and baselines (``metrics``), the final evaluation (``evaluate``),
the predictor (``predictor``, and ``hf_tagger`` for plain transformers taggers) and its route.
"""

from tunewise.tasks.base import register_task
from tunewise.tasks.tokens import doctor  # noqa: F401  (registers the doctor's token checks)
from tunewise.tasks.tokens.hf_tagger import HfTokenTagger
from tunewise.tasks.tokens.predictor import TokenPredictor
from tunewise.tasks.tokens.serving import ROUTE
from tunewise.tasks.tokens.task import TokenTask

TokenTask.route = ROUTE
TokenTask.predictor_class = TokenPredictor
TokenTask.plain_predictor_class = HfTokenTagger
register_task(TokenTask)

__all__ = ["TokenTask"]
