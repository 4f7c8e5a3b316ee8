"""Tasks, one folder each, registered by name beside their code (see ``base.py``).

Importing this package imports every task folder here (each registers itself in its
``__init__.py``) and every ``tunewise.tasks`` entry point of installed packages; a task defined
elsewhere (a plugin, a test) registers itself with :func:`register_task` and is then found by
the runner, the CLI, the doctor, the report and the server like the built-in ones. Adding a
task is adding a folder: no list here to keep in sync.
"""

import importlib
import pkgutil
from importlib.metadata import entry_points

# isort: off
from tunewise.tasks.base import (
    TASKS,
    Fitted,
    Predictor,
    Route,
    Section,
    Task,
    TaskData,
    get_task,
    register_task,
    task_names,
    unregister_task,
)

for _mod in pkgutil.iter_modules(__path__):
    if _mod.ispkg:
        importlib.import_module(f"{__name__}.{_mod.name}")
for _ep in entry_points(group="tunewise.tasks"):
    _ep.load()

# isort: on
from tunewise.tasks.classification import ClassificationTask  # noqa: E402
from tunewise.tasks.text import Encoded  # noqa: E402

__all__ = [
    "TASKS",
    "ClassificationTask",
    "Encoded",
    "Fitted",
    "Predictor",
    "Route",
    "Section",
    "Task",
    "TaskData",
    "get_task",
    "register_task",
    "task_names",
    "unregister_task",
]
