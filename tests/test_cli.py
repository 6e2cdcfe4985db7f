"""The fastinit command: bench (argparse in front of fastinit.bench), info, stream, and
errors a user can act on."""

import io
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

import fastinit
from fastinit import Generator, arrays, bench, cli
from fastinit.torch import bench as model_bench

NO_GPU = "no GPU: test machine"


class Calls(list):
    """bench.run's arguments per device run; ``models``: the whole-model runs';
    ``small``: the small-tensor runs' (their ``quick``)."""

    models = small = None


@pytest.fixture
def runs(monkeypatch):
    """The arguments `fastinit bench` hands bench.run, one dict per device run, and the
    whole-model runs in ``.models`` (nothing is timed; no GPU, whatever this machine has)."""
    calls = Calls()
    calls.models, calls.small = [], []

    def fake_run(sizes, distributions, dtypes, quick, on_case, env, device, on_note):
        calls.append({"sizes": sizes, "distributions": distributions, "dtypes": dtypes,
                      "quick": quick, "device": device})
        return {**env, "rows": []}

    def fake_models(device, config, quick, on_case):
        calls.models.append((device, config))
        return []

    def fake_small(quick, on_case):
        calls.small.append(quick)
        return []

    monkeypatch.setattr(bench, "run", fake_run)
    monkeypatch.setattr(bench, "run_small", fake_small)
    monkeypatch.setattr(model_bench, "run", fake_models)
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
    assert runs.small == [quick]  # the small-tensor cases, on the CPU


@pytest.mark.parametrize("argv, models", [
    (["bench"], [("cpu", "gpt2")]),
    (["bench", "--quick"], [("cpu", "gpt2-tiny")]),
    (["bench", "--model", "gpt2-xl"], [("cpu", "gpt2-xl")]),
    (["bench", "--model", "none"], []),
])
def test_bench_runs_the_whole_model_case(runs, capsys, argv, models):
    assert cli.main(argv) == 0
    assert runs.models == models


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
    assert len(runs.small) == devices.count("cpu")
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
                   "commit": "abc1234", "rows": [], "models": []}
    assert runs.models == [("cpu", "gpt2-tiny"), ("cuda", "gpt2-tiny")]
    assert set(json.loads((tmp_path / "out-cpu.json").read_text())) == {
        "device", "date", "commit", "rows", "models", "small"}
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
    assert set(results) == {"device", "date", "commit", "rows", "models", "small"}
    assert len(results["rows"]) == 4 * 2
    assert "small tensors: one call on a float32" in out
    assert re.search(r"kaiming_uniform_\n  method +64 +1024 +4096\n  fastinit \(seed=\) +\d", out)
    assert len(results["small"]) == 3 * 3 * 3
    assert all(tuple(row) == bench.SMALL_ROW_KEYS for row in results["small"])
    assert "gpt2-tiny reset_parameters  float32" in out
    assert {r["method"] for r in results["models"]} == {
        model_bench.FASTINIT, model_bench.RESET, model_bench.INIT_WEIGHTS, bench.WRITE}
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


# --- fastinit info ------------------------------------------------------------------------


def test_info_names_every_backend_and_why_one_is_missing(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    for section in ("versions", "backends", "devices", "kernel cache", "memory"):
        assert f"\n{section}\n" in f"\n{out}"
    assert f"fastinit    {fastinit.__version__}" in out
    assert f"numpy       {np.__version__}" in out
    for name, (ok, why) in arrays.backend_status().items():
        assert f"  {name:<12}{'yes' if ok else 'no '}  {why}" in out
    assert f"{os.cpu_count()} cores, {numba.get_num_threads()} Numba threads" in out
    gbps = float(re.search(r"plain write (\S+) GB/s", out).group(1))
    assert gbps > 0


def test_info_json_is_the_same_report(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_write_bandwidth", lambda: 12.345)
    assert cli.main(["info", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"versions", "backends", "cpu", "cuda_devices", "no_cuda",
                           "kernel_cache", "plain_write_gbps", "plain_write"}
    assert set(report["kernel_cache"]) == {"directory", "current", "stale", "specializations"}
    assert report["versions"]["fastinit"] == fastinit.__version__
    assert report["versions"]["Python"].startswith(platform.python_version())
    assert {name: (b["available"], b["note"]) for name, b in report["backends"].items()} == {
        name: status for name, status in arrays.backend_status().items()}
    assert report["plain_write_gbps"] == 12.35
    assert (report["cuda_devices"] == []) == bool(report["no_cuda"])


def test_info_says_why_there_is_no_cuda_device(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_write_bandwidth", lambda: 1.0)
    monkeypatch.setattr(bench, "cuda_status", lambda: (False, NO_GPU))
    monkeypatch.setattr(bench, "_cupy", lambda: (None, "CuPy is not installed"))
    assert cli.main(["info"]) == 0
    assert f"  cuda        none: {NO_GPU}; CuPy is not installed\n" in capsys.readouterr().out


def test_info_lists_the_cuda_devices_torch_sees(monkeypatch, capsys):
    class Props:
        name, total_memory, major, minor = "NVIDIA H100 80GB HBM3", 80 * 2**30, 9, 0

    class FakeCuda:
        device_count = staticmethod(lambda: 2)
        get_device_properties = staticmethod(lambda index: Props)

    monkeypatch.setattr(cli, "_write_bandwidth", lambda: 1.0)
    monkeypatch.setattr(bench, "cuda_status", lambda: (True, ""))
    monkeypatch.setattr(bench, "_torch", lambda: type("torch", (), {"cuda": FakeCuda}))
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    for index in (0, 1):
        assert (f"  cuda:{index}: NVIDIA H100 80GB HBM3, 80 GiB, compute capability 9.0\n"
                in out)
    assert "cuda        none" not in out


# --- fastinit stream ----------------------------------------------------------------------


def _stream(capsysbinary, *argv):
    assert cli.main(["stream", *argv]) == 0
    out, err = capsysbinary.readouterr()
    assert err == b""
    return np.frombuffer(out, "<u4")


@pytest.mark.parametrize("seed, stream, count", [
    (5, 3, 0), (5, 3, 1), (0, 0, 4096 + 3), (2**64 - 1, 2**63 + 5, 2**20 + 5)])
def test_stream_count_writes_exactly_the_raw_words(capsysbinary, seed, stream, count):
    words = _stream(capsysbinary, "--seed", str(seed), "--stream", str(stream),
                    "--count", str(count))
    assert words.size == count
    assert (words == Generator(seed, stream).random_raw(count)).all()


def test_stream_chunks_continue_the_stream(monkeypatch, capsysbinary):
    monkeypatch.setattr(cli, "STREAM_CHUNK_WORDS", 12)
    words = _stream(capsysbinary, "--seed", "9", "--count", "101")
    assert (words == Generator(9).random_raw(101)).all()


def test_stream_offset_is_in_philox_blocks_and_wraps(capsysbinary):
    words = _stream(capsysbinary, "--seed", "7", "--stream", "2", "--offset", "10",
                    "--count", "9")
    assert (words == Generator(7, 2).random_raw(49)[40:]).all()
    last = 2**64 - 1  # the stream's last block, then block 0 again
    words = _stream(capsysbinary, "--seed", "7", "--stream", "2", "--offset", str(last),
                    "--count", "8")
    counters = np.array([[last & 0xFFFFFFFF, last >> 32, 2, 0], [0, 0, 2, 0]], np.uint32)
    assert (words == fastinit.philox4x32(counters, np.array([7, 0], np.uint32)).reshape(-1)).all()


def test_stream_integers_may_be_hexadecimal(capsysbinary):
    words = _stream(capsysbinary, "--seed", "0x10", "--stream", "0b11", "--count", "4")
    assert (words == Generator(16, 3).random_raw(4)).all()


def test_stream_refuses_a_terminal(monkeypatch, capsys):
    class Terminal:
        buffer = type("TtyBuffer", (), {"isatty": staticmethod(lambda: True)})()

    monkeypatch.setattr(sys, "stdout", Terminal())
    with pytest.raises(SystemExit) as exc:
        cli.main(["stream", "--seed", "1"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith(
        "fastinit stream: error: refusing to write binary words to a terminal")


def test_endless_stream_into_head_exits_0_quietly():
    # pipefail: the pipeline's status is fastinit's once head has closed the pipe
    proc = subprocess.run(["bash", "-o", "pipefail", "-c",
                           f"{sys.executable} -m fastinit stream --seed 3 | head -c 100"],
                          capture_output=True, cwd=Path(cli.__file__).parents[1], timeout=120)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert (np.frombuffer(proc.stdout, "<u4") == Generator(3).random_raw(25)).all()


# --- errors a user can act on -------------------------------------------------------------

U64 = "is not an integer in [0, 2**64)"


@pytest.mark.parametrize("argv, message", [
    (["stream"], "the following arguments are required: --seed"),
    (["stream", "--seed", "-1"], f"argument --seed: '-1' {U64}"),
    (["stream", "--seed", "abc"], f"argument --seed: 'abc' {U64}"),
    (["stream", "--seed", str(2**64)], f"argument --seed: '{2**64}' {U64}"),
    (["stream", "--seed", "1.5"], f"argument --seed: '1.5' {U64}"),
    (["stream", "--seed", "1", "--stream", "-5"], f"argument --stream: '-5' {U64}"),
    (["stream", "--seed", "1", "--offset", "x"], f"argument --offset: 'x' {U64}"),
    (["stream", "--seed", "1", "--count", "-1"],
     "argument --count: '-1' is not a whole number of words (>= 0)"),
    (["stream", "--seed", "1", "--count", "1e6"],
     "argument --count: '1e6' is not a whole number of words (>= 0)"),
    (["stream", "--seed"], "argument --seed: expected one argument"),
    (["stream", "--seed", "1", "--bogus"], "unrecognized arguments: --bogus"),
    (["info", "--bogus"], "unrecognized arguments: --bogus"),
    (["warmup", "--dtypes", "complex64"],
     "argument --dtypes: 'complex64' is not one of float32"),
    (["warmup", "--rules", "laplace"], "argument --rules: 'laplace' is not one of uniform"),
    (["bogus"], "argument command: invalid choice: 'bogus'"),
    (["bench", "--json", ""], "argument --json: an empty path"),
    (["bench", "--plot", " "], "argument --plot: an empty path"),
])
def test_bad_values_say_what_is_accepted(runs, capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert err.startswith("usage: fastinit") and message in err and "Traceback" not in err
    assert out == "" and runs == []


def test_bench_output_directory_must_be_writable(monkeypatch, runs, capsys, tmp_path):
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--json", str(tmp_path / "out.json")])
    assert exc.value.code == 2
    assert f"argument --json: cannot write in {tmp_path} (no permission)" in capsys.readouterr().err


def test_a_bad_seed_in_a_real_process_gives_usage_and_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "fastinit", "stream", "--seed", "-1"],
                          capture_output=True, text=True, cwd=Path(cli.__file__).parents[1])
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("usage: fastinit stream")
    assert proc.stderr.endswith(f"fastinit stream: error: argument --seed: '-1' {U64}\n")


def test_bench_sizes_beyond_the_machines_memory_exit_2_before_benchmarking(monkeypatch, runs,
                                                                           capsys):
    monkeypatch.setattr(cli, "_physical_memory", lambda: 2**30)
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--device", "cpu", "--sizes", "20,28"])  # 2^28 float32: 1 GiB
    assert exc.value.code == 2
    assert capsys.readouterr().err == (
        "fastinit bench: error: --sizes 28: a CPU case of 2^28 elements needs about 1.5 GiB, "
        "and this machine has 1.0 GiB of RAM\n")  # bfloat16 with numpy's float32 buffer
    assert runs == []
    assert cli.main(["bench", "--device", "cpu", "--sizes", "27", "--dtypes", "float32"]) == 0


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_progress_bar_counts_cases_on_a_terminal_only():
    terminal = Terminal()
    progress = cli._Progress(4, terminal)
    progress.tick("uniform float32 2^20")
    progress.tick("normal float32 2^20")
    assert terminal.getvalue().endswith("[############............] 2/4 done: normal float32 2^20")
    progress.clear()
    assert terminal.getvalue().endswith("\r\x1b[K")
    piped = io.StringIO()
    cli._Progress(4, piped).tick("uniform float32 2^20")
    assert piped.getvalue() == ""


def test_the_table_has_speedups_over_torch_and_numpy(capsys):
    seconds = {bench.FASTINIT: 0.5, bench.TORCH: 2.0, "numpy": 1.5, bench.WRITE: 0.25}
    cli._case_printer("cpu", cli._Progress(1, io.StringIO()))(
        bench.case_rows("normal", "float32", 1000, seconds))
    out = capsys.readouterr().out
    assert "x torch  x numpy" in out
    assert re.search(r"fastinit .* 4\.00x +3\.00x", out)


# --- fastinit bench --cold and fastinit warmup --------------------------------------------


def test_cold_bench_prints_a_row_per_case_and_writes_json(monkeypatch, capsys, tmp_path):
    from fastinit import coldstart

    rows = [{"case": "import fastinit", "cold_s": 0.31, "warm_s": 0.3, "torch_s": None,
             "goal_s": 0.4},
            {"case": "init.normal_ float32", "cold_s": 1.9, "warm_s": 0.41, "torch_s": 0.012,
             "goal_s": 2.0}]

    def fake_run(on_row):
        for row in rows:
            on_row(row)
        return {**bench.environment("cpu"), "kind": "cold start", "rows": rows}

    monkeypatch.setattr(coldstart, "run", fake_run)
    assert cli.main(["bench", "--cold", "--json", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "  import fastinit" in out and "0.31    0.30        -    0.40" in out
    assert "1.90    0.41     0.01    2.00" in out
    (path,) = tmp_path.iterdir()
    assert re.fullmatch(r"cpu-cold-\d{4}-\d\d-\d\d-\w+\.json", path.name)
    assert json.loads(path.read_text())["rows"] == rows


def test_warmup_compiles_what_is_asked_and_says_where(monkeypatch, capsys):
    from fastinit import warmup

    compiled = []
    monkeypatch.setattr(warmup, "compile_one", compiled.append)
    assert cli.main(["warmup", "--dtypes", "bfloat16", "--rules", "trunc_normal"]) == 0
    assert compiled == [("truncnorm32", "bfloat16")]
    out = capsys.readouterr().out
    assert out.startswith("compiling 1 CPU kernel into ")
    assert re.search(r"done in \d+\.\d s: \d+ kernel compilations cached in ", out)


def test_info_says_so_when_the_cache_index_cannot_be_read(monkeypatch, capsys):
    from fastinit.backends import cpu

    monkeypatch.setattr(cli, "_write_bandwidth", lambda: 1.0)
    monkeypatch.setattr(cpu, "cache_state", lambda: ("/somewhere", None, None))
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "kernel cache\n  /somewhere\n  contents unknown" in out
