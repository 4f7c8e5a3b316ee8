"""The few-shot doctor: short classes, duplicate shots, a test set too small."""

from __future__ import annotations

from tunewise.config import DoctorConfig
from tunewise.data import Example
from tunewise.doctor.fewshot import detectable_difference, fewshot_doctor
from tunewise.fewshot.sampling import Draw


def _ex(t, l, w=""):
    return Example(t, l, where=w)


def test_class_with_fewer_than_k_is_an_error():
    train = [_ex(f"a {i}", "a") for i in range(10)] + [_ex("b 1", "b"), _ex("b 2", "b")]
    out = fewshot_doctor(train, [], [_ex("x", "a")] * 5000, 4, DoctorConfig())
    assert out["errors"] == ["fewshot_class_size"]
    assert "'b' has 2" in out["findings"][0]["message"]


def test_duplicate_and_near_duplicate_shots_warn():
    dup = "the film was a lovely and moving story about two brothers at sea"
    near = dup + " indeed"
    d = Draw(
        1,
        0,
        [_ex(dup, "a", "l2"), _ex(dup, "a", "l9"), _ex("other words", "b", "l3")],
        [_ex(near, "a", "l7")],
    )
    out = fewshot_doctor(d.train * 3, [d], [_ex("x", "a")] * 5000, 1, DoctorConfig())
    f = {c["check"]: c for c in out["checks"]}["fewshot_duplicates"]
    assert f["severity"] == "warning"
    assert f["details"]["draws"][0]["exact_pairs"] == 1
    assert f["details"]["draws"][0]["near_pairs"] >= 1
    clean = Draw(1, 0, [_ex("one two three", "a"), _ex("four five six", "b")], [])
    ok = fewshot_doctor(clean.train, [clean], [_ex("x", "a")] * 5000, 1, DoctorConfig())
    assert {c["check"]: c for c in ok["checks"]}["fewshot_duplicates"]["severity"] == "ok"


def test_small_test_set_warns():
    assert detectable_difference(100) > detectable_difference(1000)
    train = [_ex(f"a {i}", "a") for i in range(4)] + [_ex(f"b {i}", "b") for i in range(4)]
    small = fewshot_doctor(train, [], [_ex("x", "a")] * 200, 2, DoctorConfig())
    assert [f["check"] for f in small["findings"]] == ["fewshot_test_size"]
    big = fewshot_doctor(train, [], [_ex("x", "a")] * 5000, 2, DoctorConfig())
    assert big["findings"] == []
