#!/usr/bin/env bash
# What a session lent a GPU runs, in steps (each within the device tool's 10 minutes):
#   bash bench/gpu_session.sh smoke COMMIT    one fill per backend and rule family against
#                                             the CPU, under a minute (bench/gpu_smoke.py)
#   bash bench/gpu_session.sh tests COMMIT    the smoke step, then the GPU tests, unskipped,
#                                             incl. compute-sanitizer
#   bash bench/gpu_session.sh bench COMMIT    the smoke step, then fastinit bench --device
#                                             cuda: JSON + PNG
#   bash bench/gpu_session.sh all COMMIT      smoke, tests, bench and compute-sanitizer in
#                                             one call, each under its own time limit, going
#                                             on past a failure: for a lease that has room
#                                             for one machine start only
# from the repository root on the GPU machine (no install: PYTHONPATH is the tree, ahead of
# any PYTHONPATH already set, e.g. /tmp/site holding a carried numpy wheel). Every
# step starts with the smoke step and stops there if it fails: then the GPU's time goes to
# that failure, not to the full tests or the bench. Logs and results go to $OUT (the device
# tool's folder that comes back), else bench/results/. COMMIT is the short hash being
# measured (the tree copied there has no git history).
set -uo pipefail
step=${1:?smoke, tests, bench or all}
export FASTINIT_COMMIT=${2:?the commit being measured}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
out=${OUT:-bench/results}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import sys, numpy, numba, numba_cuda, cupy, torch
print(sys.version.split()[0], *(f"{m.__name__} {m.__version__}" for m in
      (numpy, numba, numba_cuda, cupy, torch)))'
gpu_tests=(tests/test_backends_cupy.py tests/test_backends_numba_cuda.py tests/test_kernels.py
           tests/test_bench.py tests/test_torch.py)
if [ "$step" = all ]; then
  timeout 90 python3 bench/gpu_smoke.py 2>&1 | tee "$out/gpu-smoke.log"
  timeout 180 python3 -m pytest "${gpu_tests[@]}" -q -rs -p no:cacheprovider \
    -k "not compute_sanitizer" 2>&1 | tee "$out/gpu-tests.log"
  timeout 170 python3 -m fastinit bench --device cuda --json "$out" --plot "$out" 2>&1 \
    | tee "$out/gpu-bench.log"
  timeout 60 python3 -m pytest tests/test_backends_cupy.py -q -rs -p no:cacheprovider \
    -k "compute_sanitizer and memcheck" 2>&1 | tee "$out/gpu-sanitizer.log"
  exit 0
fi
timeout 120 python3 bench/gpu_smoke.py 2>&1 | tee "$out/gpu-smoke.log"
smoke=${PIPESTATUS[0]}
if [ "$smoke" -ne 0 ]; then
  echo "smoke step failed (exit $smoke): see $out/gpu-smoke.log" >&2
  exit "$smoke"
fi
case $step in
  smoke) ;;
  tests)
    python3 -m pytest "${gpu_tests[@]}" -q -rs 2>&1 | tee "$out/gpu-tests.log"
    ;;
  bench)
    python3 -m fastinit bench --device cuda --json "$out" --plot "$out" 2>&1 \
      | tee "$out/gpu-bench.log"
    ;;
  *) echo "unknown step $step: smoke, tests, bench or all" >&2; exit 2 ;;
esac
