"""Supervised fine-tuning of decoders (``--task sft``): registered here, beside its code.

Data (``data``: instruction, chat and text files), the chat template (``chat_template``), the
task (``task``: tokens, labels on assistant turns, packing, the loss), the doctor's checks
(``doctor``), the evaluation (``evaluate``, ``metrics``), the predictor (``predictor``: the
``Generator`` that ``generate``, ``chat``, ``predict`` and the server use) and the summary.
"""

from tunewise.tasks.base import register_task
from tunewise.tasks.sft import doctor  # noqa: F401  (registers the doctor's sft checks)
from tunewise.tasks.sft.predictor import Generator
from tunewise.tasks.sft.task import SFTTask

SFTTask.predictor_class = SFTTask.plain_predictor_class = Generator
register_task(SFTTask)

__all__ = ["SFTTask"]
