"""The fastinit command: argparse in front of fastinit.bench."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fastinit import bench, cli


@pytest.fixture
def run_args(monkeypatch):
    """The arguments `fastinit bench` hands bench.run (nothing is timed)."""
    seen = {}

    def fake_run(sizes, distributions, dtypes, quick, on_case, env):
        seen.update(sizes=sizes, distributions=distributions, dtypes=dtypes, quick=quick)
        return {**env, "rows": []}

    monkeypatch.setattr(bench, "run", fake_run)
    return seen


def test_no_subcommand_prints_help(capsys):
    assert cli.main([]) == 0
    assert "bench" in capsys.readouterr().out


@pytest.mark.parametrize("argv, sizes, quick", [
    (["bench"], bench.SIZES, False),
    (["bench", "--quick"], bench.QUICK_SIZES, True),
    (["bench", "--sizes", "12,14"], (12, 14), False),
])
def test_bench_flags(run_args, capsys, argv, sizes, quick):
    assert cli.main(argv) == 0
    assert run_args == {"sizes": sizes, "distributions": tuple(bench.DISTRIBUTIONS),
                        "dtypes": bench.DEFAULT_DTYPES, "quick": quick}


def test_distributions_and_dtypes_are_lists(run_args, capsys):
    cli.main(["bench", "--distributions", "normal,uniform", "--dtypes", "float16"])
    assert run_args["distributions"] == ("normal", "uniform")
    assert run_args["dtypes"] == ("float16",)


@pytest.mark.parametrize("argv", [
    ["--bogus"],
    ["bench", "--bogus"],
    ["bench", "--sizes", "twenty"],
    ["bench", "--sizes", "20,-1"],
    ["bench", "--sizes", "41"],
    ["bench", "--distributions", "gamma"],
    ["bench", "--dtypes", "int8"],
    ["bench", "--json", "/no/such/directory/out.json"],
])
def test_bad_flags_print_usage_and_exit_2(run_args, capsys, argv):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: fastinit") and "error:" in err
    assert "Traceback" not in err
    assert run_args == {}


def test_quick_bench_prints_a_table_and_writes_json(tmp_path, capsys):
    path = tmp_path / "cpu.json"
    argv = ["bench", "--quick", "--sizes", "12", "--dtypes", "bfloat16", "--json", str(path)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "normal  bfloat16  2^12 elements" in out and "% write" in out
    assert "numpy (f32→bf16)" in out
    results = json.loads(path.read_text())
    assert set(results) == {"device", "date", "commit", "rows"}
    assert len(results["rows"]) == 4 * len(bench.DISTRIBUTIONS)
    for row in results["rows"]:
        assert tuple(row) == bench.ROW_KEYS
        assert row["seconds"] > 0 and row["gbps"] > 0 and row["pct_of_write"] > 0


def test_python_dash_m_runs_the_cli():
    proc = subprocess.run([sys.executable, "-m", "fastinit", "bench", "--bogus"],
                          capture_output=True, text=True, cwd=Path(cli.__file__).parents[1])
    assert proc.returncode == 2
    assert "usage: fastinit" in proc.stderr
