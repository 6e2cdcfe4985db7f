"""fastinit bench --cold: each case's code runs in a fresh process, cold and warm."""

import pytest

from fastinit import bench, coldstart


def test_the_import_case_times_the_import_alone():
    row = coldstart.case_row("import fastinit")
    assert row["case"] == "import fastinit" and row["torch_s"] is None
    assert row["goal_s"] == 0.4
    assert row["cold_s"] > 0 and row["warm_s"] > 0


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cold-cache")


@pytest.mark.parametrize("name", [n for n in coldstart.CASES if n != "import fastinit"])
def test_every_case_and_its_torch_equivalent_runs(name, cache):
    """Each case and its torch counterpart run in a fresh process; one cache serves
    them all here."""
    setup, call, torch_case, goal = coldstart.CASES[name]
    if name in coldstart.NEEDS_TORCH and bench._torch() is None:
        pytest.skip("needs torch")
    assert coldstart.time_in_fresh_process(setup, call, cache) > 0
    if torch_case is not None and bench._torch() is not None:
        assert coldstart.time_in_fresh_process(*torch_case, cache) > 0
    assert goal in (2.0, 3.0, 30.0)


def test_a_failing_case_raises_with_the_childs_error(tmp_path):
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        coldstart.time_in_fresh_process("", "1 / 0", tmp_path)


def test_run_reports_the_environment_and_one_row_per_case(monkeypatch):
    seen = []
    monkeypatch.setattr(coldstart, "case_row", lambda name: {"case": name})
    results = coldstart.run(["import fastinit"], on_row=seen.append)
    assert results["rows"] == seen == [{"case": "import fastinit"}]
    assert {"device", "date", "commit", "kind"} <= set(results)
