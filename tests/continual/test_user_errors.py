"""Bad input to the continual commands: one line, exit code 2, nothing half-written."""

from __future__ import annotations

import pytest

from tunewise.cli.main import main


def _run(capsys, argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err.strip()
    return e.value.code, err


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--strategy", "magic"], "--strategy 'magic'"),
        (["--strategy", "replay", "--replay", "lots"], "--replay 'lots'"),
        (["--strategy", "replay", "--replay", "0%"], "--replay '0%'"),
        (["--strategy", "naive", "--replay", "2%"], "--replay is the size"),
        (["--strategy", "naive", "--method", "lora"], "needs --strategy lora-per-task"),
    ],
)
def test_bad_continue_flags(capsys, root_run, two_tasks, tmp_path, extra, needle):
    out = tmp_path / "v2"
    argv = [
        "train",
        "--continue-from",
        str(root_run),
        "--train",
        str(two_tasks["b"]["train"]),
        "--test",
        str(two_tasks["b"]["test"]),
        "--out",
        str(out),
        *extra,
    ]
    code, err = _run(capsys, argv)
    assert code == 2 and needle in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_continue_from_not_a_run(capsys, tmp_path, two_tasks):
    code, err = _run(
        capsys,
        [
            "train",
            "--continue-from",
            str(tmp_path),
            "--train",
            str(two_tasks["b"]["train"]),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert code == 2 and "not a tunewise run directory" in err and len(err.splitlines()) == 1


def test_strategy_without_continue_from(capsys, two_tasks, tmp_path):
    code, err = _run(
        capsys, ["train", "--train", str(two_tasks["b"]["train"]), "--strategy", "replay"]
    )
    assert code == 2 and "need --continue-from" in err


def test_other_model_than_the_parent(capsys, root_run, two_tasks, tmp_path):
    code, err = _run(
        capsys,
        [
            "train",
            "--continue-from",
            str(root_run),
            "--model",
            "minilm",
            "--train",
            str(two_tasks["b"]["train"]),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert code == 2 and "keeps its parent's model" in err


def test_forgetting_on_a_plain_run(capsys, root_run):
    code, err = _run(capsys, ["forgetting", str(root_run)])
    assert code == 2 and "not a continued run" in err


def test_parent_without_test_file(capsys, tiny_model_dir, two_tasks, tmp_path):
    import tunewise
    from tests.continual.conftest import stage_config

    files = {"train": two_tasks["a"]["train"]}
    tunewise.train(stage_config(tiny_model_dir, files, tmp_path / "p", epochs=1))
    code, err = _run(
        capsys,
        [
            "train",
            "--continue-from",
            str(tmp_path / "p"),
            "--train",
            str(two_tasks["b"]["train"]),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert code == 2 and "has no test file" in err
    assert not (tmp_path / "o").exists()


def test_bad_tasks_file(capsys, tmp_path):
    f = tmp_path / "tasks.yaml"
    f.write_text(
        "tasks:\n  - {name: a, train: nope.csv, test: nope.csv}\n  - {name: b, train: x, test: y}\n"
    )
    code, err = _run(capsys, ["continual", "--tasks", str(f), "--out", str(tmp_path / "cl")])
    assert code == 2 and "not found" in err
    code, err = _run(
        capsys,
        [
            "continual",
            "--tasks",
            str(f),
            "--strategies",
            "naive,zap",
            "--out",
            str(tmp_path / "cl"),
        ],
    )
    assert code == 2
