"""fastinit.bench: one destination per case, every method timed on it, rows of one shape."""

import math

import numba
import numpy as np
import pytest

from fastinit import bench
from fastinit.distributions import Normal, Uniform


def check_rows(rows):
    assert rows
    for row in rows:
        assert tuple(row) == bench.ROW_KEYS
        for key in ("elements", "seconds", "gbps", "pct_of_write"):
            assert row[key] > 0 and math.isfinite(row[key])
        assert row["x_torch"] is None or row["x_torch"] > 0


def test_quick_run_at_a_tiny_size_times_every_method_of_every_case():
    seen = []
    results = bench.run(sizes=(12,), quick=True, on_case=seen.append)
    assert set(results) == {"device", "date", "commit", "rows"}
    assert "cores" in results["device"]
    rows = results["rows"]
    check_rows(rows)
    assert [r for case in seen for r in case] == rows
    cases = {(r["distribution"], r["dtype"]) for r in rows}
    assert cases == {(d, t) for d in bench.DISTRIBUTIONS for t in bench.DEFAULT_DTYPES}
    methods = {(r["distribution"], r["dtype"]): [] for r in rows}
    for r in rows:
        methods[r["distribution"], r["dtype"]].append(r["method"])
        assert r["elements"] == 4096
    assert methods["uniform", "float32"] == [bench.FASTINIT, bench.ONE_THREAD, bench.TORCH,
                                             "numpy", bench.WRITE]
    assert methods["xavier_uniform", "bfloat16"] == [bench.FASTINIT, bench.TORCH,
                                                     "numpy (f32→bf16)", bench.WRITE]
    assert methods["trunc_normal", "float32"][-2] == "scipy truncnorm (f64→f32)"
    for r in rows:
        if r["method"] == bench.WRITE:
            assert r["pct_of_write"] == pytest.approx(100)
        if r["method"] == bench.TORCH:
            assert r["x_torch"] == pytest.approx(1)


def test_best_times_go_round_robin_within_each_budget():
    calls = []
    methods = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    cost = {"a": 0.1, "b": 1.0, "c": 0.01}

    def time_once(fn):
        fn()
        return cost[calls[-1]] + 0.001 * len(calls)

    best = bench.best_times(methods, time_once, budget_s=0.5, max_repeats=4)
    assert calls[:3] == ["a", "b", "c"]  # warm-up, untimed
    assert calls[3:9] == ["a", "b", "c", "a", "c", "a"]  # b is over budget after one
    assert calls.count("c") == 5 and calls.count("a") == 5 and calls.count("b") == 2
    assert best == {"a": pytest.approx(0.104), "b": pytest.approx(1.005),
                    "c": pytest.approx(0.016)}


def test_rows_follow_the_seconds_given():
    seconds = {bench.FASTINIT: 0.5, bench.TORCH: 2.0, bench.WRITE: 0.25}
    rows = bench.case_rows("normal", "bfloat16", 1000, seconds)
    check_rows(rows)
    fast, torch_row, write = rows
    assert fast["gbps"] == pytest.approx(2000 / 0.5 / 1e9)
    assert (fast["pct_of_write"], fast["x_torch"]) == (50.0, 4.0)
    assert (torch_row["pct_of_write"], torch_row["x_torch"]) == (12.5, 1.0)
    assert (write["pct_of_write"], write["x_torch"]) == (100.0, 8.0)


def test_without_torch_numpy_arrays_are_filled_and_x_torch_is_null(monkeypatch):
    monkeypatch.setattr(bench, "_torch", lambda: None)
    rows = bench.run(sizes=(10,), distributions=("uniform",), dtypes=("float32",), quick=True,
                     env={})["rows"]
    check_rows(rows)
    assert [r["method"] for r in rows] == [bench.FASTINIT, bench.ONE_THREAD, "numpy",
                                           bench.WRITE]
    assert all(r["x_torch"] is None for r in rows)
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS


@pytest.mark.parametrize("name, expected", [
    ("uniform", Uniform(-1.0, 1.0)),
    ("kaiming_normal", Normal(0.0, math.sqrt(2.0 / 1024))),
])
def test_numpy_draws_what_fastinit_draws(name, expected):
    dst = np.zeros((8, 1024), np.float32)
    assert bench._drawn(*bench.DISTRIBUTIONS[name], dst) == expected
    assert not dst.any()  # recording the distribution writes nothing


def test_each_method_writes_the_destination():
    methods = bench.cpu_methods("normal", "float32", 4096)
    dst = methods[bench.FASTINIT].args[0]
    write = methods.pop(bench.WRITE)
    for method, fill in methods.items():
        write()
        fill()
        assert (dst != 1).all(), method
