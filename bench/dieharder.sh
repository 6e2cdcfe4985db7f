#!/usr/bin/env bash
# dieharder's standard battery (-a) on the raw words of one fastinit stream:
#
#   fastinit stream --seed SEED --stream STREAM | dieharder -a -g 200
#
# usage: bench/dieharder.sh [SEED [STREAM]]      (defaults: 20261203, 0)
#   DIEHARDER_ARGS  replaces "-a" (e.g. "-d 0" for one test, "-a -k 2" for more accuracy)
#   FASTINIT        the command that runs fastinit (default: python3 -m fastinit)
# Prints a header (command, versions, date, machine), dieharder's table, then the count
# of PASSED/WEAK/FAILED. dieharder -g 200 reads raw uint32 words from stdin; the
# full battery reads a few hundred GB and takes hours on a small machine.
set -euo pipefail

seed=${1:-20261203}
stream=${2:-0}
args=${DIEHARDER_ARGS:--a}
fastinit=${FASTINIT:-python3 -m fastinit}
# dieharder is single-threaded; one Numba thread outruns it and leaves it a core.
export NUMBA_NUM_THREADS=${NUMBA_NUM_THREADS:-1}

if ! command -v dieharder >/dev/null; then
    echo "dieharder is not installed (Debian/Ubuntu: apt-get install dieharder)" >&2
    exit 1
fi
cd "$(dirname "$0")/.."

version=$(dieharder -l | sed -n 's/.*dieharder version \([0-9.]*\).*/\1/p' | head -1)
echo "# command:   fastinit stream --seed $seed --stream $stream | dieharder $args -g 200"
package=$(dpkg-query -W -f '${Version}' dieharder 2>/dev/null || echo '?')
echo "# dieharder: $version (package $package)"
echo "# fastinit:  $(python3 -c 'import fastinit; print(fastinit.__version__)')" \
     "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "# date:      $(date -u +%Y-%m-%dT%H:%M:%SZ)"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "# machine:   ${cpu:-$(uname -m)}, $(nproc) cores"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
# shellcheck disable=SC2086  # $args and $fastinit are word lists
$fastinit stream --seed "$seed" --stream "$stream" | dieharder $args -g 200 | tee "$log"
echo "# elapsed:   $(( $(date +%s) - start )) s"
echo "# summary:   $(grep -c ' PASSED' "$log") PASSED, $(grep -c ' WEAK' "$log") WEAK," \
     "$(grep -c ' FAILED' "$log") FAILED"
