"""Continual learning: continue a finished run on new data, new labels or a new task with a
strategy that guards the earlier tasks (naive, replay, ewc, lora-per-task, joint), and measure
what the new data cost (the forgetting matrix, average accuracy, backward and forward transfer)."""

from tunewise.continual.continuation import (
    STRATEGIES,
    Continuation,
    continue_train,
    resume_continued,
)
from tunewise.continual.forgetting import forgetting
from tunewise.continual.routed import routed_loader
from tunewise.run.api import register_loader

register_loader(routed_loader)  # tunewise.load / predict / serve route a lora-per-task run

__all__ = ["STRATEGIES", "Continuation", "continue_train", "forgetting", "resume_continued"]
