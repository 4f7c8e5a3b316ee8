"""Tasks by name: each owns its head, encoding, loss, decoding and metrics."""

from tunewise.tasks.classification import ClassificationTask, Encoded

TASKS = {ClassificationTask.name: ClassificationTask}

__all__ = ["TASKS", "ClassificationTask", "Encoded"]
