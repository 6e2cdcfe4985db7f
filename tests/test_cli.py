"""The fastinit command: argparse in front of fastinit.bench."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fastinit import bench, cli

NO_GPU = "no GPU: test machine"


@pytest.fixture
def runs(monkeypatch):
    """The arguments `fastinit bench` hands bench.run, one dict per device run (nothing is
    timed; no GPU, whatever this machine has)."""
    calls = []

    def fake_run(sizes, distributions, dtypes, quick, on_case, env, device, on_note):
        calls.append({"sizes": sizes, "distributions": distributions, "dtypes": dtypes,
                      "quick": quick, "device": device})
        return {**env, "rows": []}

    monkeypatch.setattr(bench, "run", fake_run)
    monkeypatch.setattr(bench, "cuda_status", lambda: (False, NO_GPU))
    return calls


def fake_gpu(monkeypatch):
    """`fastinit bench` sees a GPU: CUDA runs get a GPU's environment."""
    monkeypatch.setattr(bench, "cuda_status", lambda: (True, ""))
    monkeypatch.setattr(bench, "cuda_missing_methods", lambda: {"fastinit (numba.cuda)": "none"})
    cpu_environment = bench.environment

    def environment(device="cpu"):
        if device == "cuda":
            return {"device": "NVIDIA H100 80GB HBM3, 80 GiB", "date": "2026-11-23",
                    "commit": "abc1234"}
        return {**cpu_environment(), "date": "2026-11-23", "commit": "abc1234"}

    monkeypatch.setattr(bench, "environment", environment)


def test_no_subcommand_prints_help(capsys):
    assert cli.main([]) == 0
    assert "bench" in capsys.readouterr().out


@pytest.mark.parametrize("argv, sizes, quick", [
    (["bench"], bench.SIZES, False),
    (["bench", "--quick"], bench.QUICK_SIZES, True),
    (["bench", "--sizes", "12,14"], (12, 14), False),
    (["bench", "--device", "cpu", "--quick"], bench.QUICK_SIZES, True),
])
def test_bench_flags(runs, capsys, argv, sizes, quick):
    assert cli.main(argv) == 0
    assert runs == [{"sizes": sizes, "distributions": tuple(bench.DISTRIBUTIONS),
                     "dtypes": None, "quick": quick, "device": "cpu"}]  # None: the device's


def test_distributions_and_dtypes_are_lists(runs, capsys):
    cli.main(["bench", "--distributions", "normal,uniform", "--dtypes", "float16"])
    assert runs[0]["distributions"] == ("normal", "uniform")
    assert runs[0]["dtypes"] == ("float16",)


def test_device_all_without_a_gpu_runs_the_cpu_and_says_why(runs, capsys):
    assert cli.main(["bench", "--quick"]) == 0
    assert [r["device"] for r in runs] == ["cpu"]
    assert f"no CUDA benchmark: {NO_GPU}" in capsys.readouterr().out


def test_device_cuda_without_a_gpu_exits_2_with_one_line(runs, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--device", "cuda"])
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert err == f"fastinit bench: error: --device cuda: {NO_GPU}\n"
    assert runs == [] and out == ""


def test_device_cuda_on_this_machine_names_what_is_missing(capsys):
    ok, why = bench.cuda_status()  # the real check: no torch, a CPU-only torch, or no GPU
    if ok:
        pytest.skip("this machine has a GPU")
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--device", "cuda"])
    assert exc.value.code == 2
    assert capsys.readouterr() == ("", f"fastinit bench: error: --device cuda: {why}\n")


@pytest.mark.parametrize("argv, devices, sizes", [
    (["bench", "--quick"], ["cpu", "cuda"], [bench.QUICK_SIZES, bench.QUICK_CUDA_SIZES]),
    (["bench"], ["cpu", "cuda"], [bench.SIZES, bench.CUDA_SIZES]),
    (["bench", "--device", "cuda"], ["cuda"], [bench.CUDA_SIZES]),
    (["bench", "--device", "cuda", "--sizes", "10"], ["cuda"], [(10,)]),
    (["bench", "--device", "cpu"], ["cpu"], [bench.SIZES]),
])
def test_with_a_gpu_each_device_runs_at_its_sizes(monkeypatch, runs, capsys, argv, devices,
                                                  sizes):
    fake_gpu(monkeypatch)
    assert cli.main(argv) == 0
    assert [r["device"] for r in runs] == devices
    assert [r["sizes"] for r in runs] == sizes
    out = capsys.readouterr().out
    assert ("fastinit bench on NVIDIA H100 80GB HBM3, 80 GiB" in out) == ("cuda" in devices)
    if "cuda" in devices:
        assert "CUDA events" in out and "not run: fastinit (numba.cuda): none" in out


def test_two_devices_write_one_json_file_each(monkeypatch, runs, capsys, tmp_path):
    fake_gpu(monkeypatch)
    assert cli.main(["bench", "--quick", "--json", str(tmp_path / "out.json")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out-cpu.json", "out-h100.json"]
    gpu = json.loads((tmp_path / "out-h100.json").read_text())
    assert gpu == {"device": "NVIDIA H100 80GB HBM3, 80 GiB", "date": "2026-11-23",
                   "commit": "abc1234", "rows": []}
    assert set(json.loads((tmp_path / "out-cpu.json").read_text())) == {
        "device", "date", "commit", "rows"}
    out = capsys.readouterr().out
    for name in ("out-cpu.json", "out-h100.json"):
        assert f"wrote {tmp_path / name}" in out


def test_a_directory_gets_results_file_names(monkeypatch, runs, capsys, tmp_path):
    fake_gpu(monkeypatch)
    plotted = []
    monkeypatch.setattr(bench, "plot", lambda results, path: plotted.append((results, path))
                        or path)
    assert cli.main(["bench", "--quick", "--json", str(tmp_path), "--plot", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cpu-2026-11-23-abc1234.json", "h100-2026-11-23-abc1234.json"]
    (results, path), = plotted
    assert [r["device"] for r in results][1] == "NVIDIA H100 80GB HBM3, 80 GiB"
    assert path == tmp_path / "cpu-h100-2026-11-23-abc1234.png"


def test_plot_without_matplotlib_exits_2_before_benchmarking(monkeypatch, runs, capsys,
                                                             tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--plot", str(tmp_path / "bench.png")])
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert err.startswith("fastinit bench: error: --plot needs matplotlib")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert runs == [] and out == ""


@pytest.mark.parametrize("argv", [
    ["--bogus"],
    ["bench", "--bogus"],
    ["bench", "--sizes", "twenty"],
    ["bench", "--sizes", "20,-1"],
    ["bench", "--sizes", "41"],
    ["bench", "--distributions", "gamma"],
    ["bench", "--dtypes", "int8"],
    ["bench", "--json", "/no/such/directory/out.json"],
    ["bench", "--plot", "/no/such/directory/out.png"],
    ["bench", "--device", "gpu"],
])
def test_bad_flags_print_usage_and_exit_2(runs, capsys, argv):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: fastinit") and "error:" in err
    assert "Traceback" not in err
    assert runs == []


def test_quick_bench_prints_a_table_and_writes_json_and_a_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path, png = tmp_path / "cpu.json", tmp_path / "cpu.png"
    argv = ["bench", "--device", "cpu", "--quick", "--sizes", "12", "--dtypes", "bfloat16",
            "--distributions", "normal,trunc_normal", "--json", str(path), "--plot", str(png)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "normal  bfloat16  2^12 elements" in out and "% write" in out
    assert "numpy (f32→bf16)" in out
    results = json.loads(path.read_text())
    assert set(results) == {"device", "date", "commit", "rows"}
    assert len(results["rows"]) == 4 * 2
    for row in results["rows"]:
        assert tuple(row) == bench.ROW_KEYS
        assert row["seconds"] > 0 and row["gbps"] > 0 and row["pct_of_write"] > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {png}" in out


def test_python_dash_m_runs_the_cli():
    proc = subprocess.run([sys.executable, "-m", "fastinit", "bench", "--bogus"],
                          capture_output=True, text=True, cwd=Path(cli.__file__).parents[1])
    assert proc.returncode == 2
    assert "usage: fastinit" in proc.stderr
