"""[harden] CLI edges: --version, tables not cut off a terminal."""

import pytest

from tunewise.cli.main import main


def _run(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    return e.value.code, capsys.readouterr()


def test_version(capsys):
    import tunewise

    try:
        main(["--version"])
        code = 0
    except SystemExit as e:
        code = e.code or 0
    assert code == 0
    assert capsys.readouterr().out.strip() == f"tunewise {tunewise.__version__}"


def test_tables_are_not_cut_when_output_is_not_a_terminal(capsys, monkeypatch):
    from tunewise.cli.report import print_metrics

    monkeypatch.delenv("COLUMNS", raising=False)
    m = {"accuracy": 0.9, "macro_f1": 0.8, "micro_f1": 0.9, "mcc": 0.7, "n": 10}
    long_name = "tfidf_logreg_with_a_really_long_name_that_does_not_fit_in_eighty_columns"
    print_metrics({"test": m, "baselines": {long_name: m}})
    out = capsys.readouterr().out
    assert "…" not in out
    assert long_name in out


def test_failed_checks_print_their_name_and_calibration_its_decision(capsys):
    from tunewise.cli.report import print_metrics

    m = {"accuracy": 0.9, "macro_f1": 0.8, "micro_f1": 0.9, "mcc": 0.7, "n": 10}
    cal = {
        "temperature": 1.5,
        "test": {"ece": 0.2, "brier": 0.3},
        "test_scaled": {"ece": 0.1},
        "decision": "applied: temperature 1.5 lowers dev NLL 0.7 -> 0.5",
    }
    checks = {"collapse": {"ok": False, "message": "label [x] is 99% of predictions"}}
    print_metrics({"test": m, "calibration": cal, "checks": checks})
    out = capsys.readouterr().out
    assert "warning [collapse]: label [x] is 99% of predictions" in out
    assert "(applied: temperature 1.5 lowers dev NLL" in out
