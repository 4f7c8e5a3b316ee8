"""The task registry: names, errors, and what the CLI says about a task it does not know."""

from __future__ import annotations

import pytest

from tunewise.errors import UserError
from tunewise.tasks import TASKS, Task, get_task, register_task, task_names, unregister_task


def test_builtin_tasks_are_found_by_name():
    assert {"classification", "tokens", "sft", "regression"} <= set(task_names())
    for name in task_names():
        t = get_task(name)
        assert t.name == name and t.route is not None and t.predictor_class is not None
        assert t.headline[0] and t.doctor_checks


def test_unknown_task_lists_the_registered_ones():
    with pytest.raises(
        UserError, match=r"task 'ranking' is not registered; the tasks are: .*regression"
    ):
        get_task("ranking")


def test_registering_twice_under_one_name_is_refused():
    class A(Task):
        name = "tmp_a"

    class B(Task):
        name = "tmp_a"

    register_task(A)
    try:
        assert get_task("tmp_a") is A
        with pytest.raises(ValueError, match="registered twice"):
            register_task(B)
    finally:
        unregister_task("tmp_a")
    assert "tmp_a" not in TASKS


def test_cli_unknown_task_is_one_line_and_writes_nothing(tmp_path, capsys):
    from tunewise.cli.main import main

    train = tmp_path / "t.csv"
    train.write_text("text,label\na,b\n")
    with pytest.raises(SystemExit) as e:
        main(["train", "--task", "ranking", "--train", str(train), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and "not registered" in err[0]
    assert not (tmp_path / "run").exists()
