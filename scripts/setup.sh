#!/usr/bin/env bash
# One-time (idempotent) setup on a fresh Debian 12 machine with Node 20:
#   1. a software Vulkan driver so the `webgpu` package finds an adapter (scripts/setup-vulkan.sh);
#   2. npm dependencies (npm install from the lockfile, skipped when package-lock.json is unchanged);
#   3. builds the packages (turbo, cached).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-vulkan.sh
bash scripts/setup-chromium.sh

stamp=node_modules/.mnv2-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing npm dependencies (npm ci, from the lockfile)"
  # --ignore-scripts: onnxruntime-node (a benchmark/cross-check dev dependency) would try to download
  # CUDA binaries offline; nothing we use needs an install script. The lockfile lists every
  # platform's optional packages (rollup/esbuild binaries), so `npm ci` accepts it and leaves it as is.
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
else
  echo "[setup] npm dependencies up to date"
fi

npx turbo run build --output-logs=errors-only
# `npx mnv2` / node_modules/.bin/mnv2: npm links a workspace's bin only when its target exists at
# install time, and dist/ is built after the install.
ln -sf ../@mnv2/cli/dist/main.js node_modules/.bin/mnv2
node packages/cli/dist/main.js doctor --brief
