"""The architecture's rules, checked on the code itself (docs/architecture.md).

- the layers point one way (import-linter's contract in pyproject.toml);
- there is no import cycle between modules;
- outside ``tasks/`` no code compares against a task's name: it asks the task.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "tunewise"


def test_layers_point_one_way():
    out = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports"))],
        capture_output=True,
        text=True,
        cwd=SRC.parents[1],
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "1 kept, 0 broken" in out.stdout


def _cycles(graph) -> list[tuple[str, ...]]:
    found = set()
    for a in sorted(graph.modules):
        for b in graph.find_modules_directly_imported_by(a):
            chain = graph.find_shortest_chain(importer=b, imported=a)
            if chain:
                cycle = (a, *chain)
                k = cycle.index(min(cycle[:-1]))
                found.add(tuple(cycle[k:-1] + cycle[:k]))
    return sorted(found)


def test_no_import_cycles():
    graph = grimp.build_graph("tunewise")
    # a package's __init__ re-exporting its submodules is not a cycle of the code
    for m in list(graph.modules):
        if graph.is_module_squashed(m) if hasattr(graph, "is_module_squashed") else False:
            continue
    cycles = [
        c
        for c in _cycles(graph)
        if not any(SRC.joinpath(*m.split(".")[1:], "__init__.py").is_file() for m in c)
    ]
    assert cycles == []


def _task_names() -> set[str]:
    from tunewise.tasks import task_names

    return set(task_names())


def _compared_names(path: Path, names: set[str]) -> list[str]:
    """Task names used as a literal in a comparison (==, !=, in) in one file."""
    out = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for part in [node.left, *node.comparators]:
                for c in ast.walk(part):
                    if isinstance(c, ast.Constant) and c.value in names:
                        out.append(f"{path.relative_to(SRC)}:{node.lineno} {c.value!r}")
    return out


def test_no_task_name_comparisons_outside_tasks():
    names = _task_names()
    files = [p for p in SRC.rglob("*.py") if "tasks" not in p.relative_to(SRC).parts]
    found = [hit for p in files for hit in _compared_names(p, names)]
    assert found == []


@pytest.mark.parametrize("name", ["classification", "tokens", "sft", "regression"])
def test_each_task_is_one_folder(name):
    """Everything a task owns is in its folder, and the folder registers it."""
    from tunewise.tasks import get_task

    task = get_task(name)
    folder = SRC / "tasks" / name
    assert Path(sys.modules[task.__module__].__file__).parent == folder
    assert (folder / "__init__.py").is_file()
    for check in task.doctor_checks:
        from tunewise.doctor import CHECKS

        module = CHECKS[check].fn.__module__
        # the task's own checks live in its folder; shared ones in the doctor package
        assert module.startswith(("tunewise.doctor.", f"tunewise.tasks.{name}.")), module
