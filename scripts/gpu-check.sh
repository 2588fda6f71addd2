#!/usr/bin/env bash
# One short, unattended check of the engine on a machine with a GPU (issue 16: "Ready for a real GPU"),
# in 8 minutes or less: setup, `mnv2 doctor`, the kernel tests, `bench kernels --quick`,
# `bench infer --quick` and `bench train --quick`, each under its own time limit. Everything goes to
# ONE markdown file: $OUT/gpu-check.md when $OUT is set (a device runner's output folder), else
# bench/results/gpu-check-<host>-<UTC date>.md. A step that fails or times out is recorded and the
# script goes on; the exit status is the number of failed steps (0 = all passed).
#
#   bash scripts/gpu-check.sh            # on the GPU machine (NVIDIA: its Vulkan ICD is preferred)
#   bash scripts/gpu-check.sh --quick    # smoke test anywhere, e.g. on lavapipe: fewer tests, filtered benches
#   bash scripts/gpu-check.sh --no-setup # skip scripts/setup.sh (already set up)
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0
setup=1
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    --no-setup) setup=0 ;;
    -h | --help)
      sed -n '2,12p' "$0"
      exit 0
      ;;
    *)
      echo "gpu-check: unknown option '$a' (see --help)" >&2
      exit 2
      ;;
  esac
done

if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"
  results="$OUT/gpu-check.md"
else
  mkdir -p bench/results
  results="bench/results/gpu-check-$(hostname -s 2>/dev/null || echo host)-$(date -u +%Y%m%dT%H%M%SZ).md"
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
started=$(date +%s)
failed=0

# Prefer the NVIDIA Vulkan driver when there is one (Dawn would otherwise also see lavapipe).
if [ -z "${VK_ICD_FILENAMES:-}" ]; then
  for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then
      export VK_ICD_FILENAMES="$icd"
      break
    fi
  done
fi

{
  echo "# gpu-check: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "- host: $(hostname 2>/dev/null), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null) $(git diff --quiet 2>/dev/null || echo '(uncommitted changes)')"
  echo "- mode: $([ $quick = 1 ] && echo 'quick (smoke test)' || echo full)"
  echo "- VK_ICD_FILENAMES: ${VK_ICD_FILENAMES:-(unset)}"
  if command -v nvidia-smi >/dev/null 2>&1; then
    echo "- nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
  else
    echo "- nvidia-smi: not found"
  fi
  echo
} >"$results"

# step NAME LIMIT_S COMMAND...: runs the command under `timeout`, appends its status and output tail.
step() {
  local name=$1 limit=$2
  shift 2
  local t0=$(date +%s) rc
  echo "[gpu-check] $name (limit ${limit}s): $*"
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
  rc=$?
  local dt=$(($(date +%s) - t0))
  local status=ok
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    status="TIMED OUT after ${limit}s"
  elif [ $rc -ne 0 ]; then
    status="FAILED (exit $rc)"
  fi
  [ "$status" = ok ] || failed=$((failed + 1))
  echo "[gpu-check] $name: $status (${dt}s)"
  {
    echo "## $name: $status (${dt} s)"
    echo
    echo "\`$*\`"
    echo
    echo '```'
    grep -v 'artificially reduced' "$log" | tail -n 80
    echo '```'
    echo
  } >>"$results"
}

cli="node packages/cli/dist/main.js"
# Full mode: the limits add up to 8 minutes.
if [ $setup = 1 ]; then
  step setup 150 bash scripts/setup.sh
fi
step doctor 30 $cli doctor
if [ $quick = 1 ]; then
  step 'kernel tests (depthwise, batchnorm; default limits)' 240 npx vitest run tests/kernels/depthwise-conv2d.test.ts tests/kernels/batchnorm.test.ts tests/engine/default-limits.test.ts
  step 'bench kernels (depthwise and BatchNorm, 224 b1)' 180 $cli bench kernels --quick --variants --repeats 3 --filter 'depthwise|batchNorm'
  step 'bench infer --quick' 120 $cli bench infer --quick --peers none --repeats 3
  step 'bench train --quick' 120 $cli bench train --quick --no-tfjs --repeats 1
else
  step 'kernel tests (and default limits)' 120 npx vitest run tests/kernels tests/engine/default-limits.test.ts
  step 'bench kernels --quick --variants' 90 $cli bench kernels --quick --variants
  step 'bench infer --quick' 45 $cli bench infer --quick
  step 'bench train --quick' 45 $cli bench train --quick
fi

echo "Total: $(($(date +%s) - started)) s, $failed step(s) failed." >>"$results"
echo "[gpu-check] wrote $results ($failed failed)"
exit $failed
