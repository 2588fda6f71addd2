#!/usr/bin/env bash
# Installs Debian's chromium for the web package's end-to-end tests (tests/web: playwright-core drives
# /usr/bin/chromium with WebGPU on SwiftShader; no browser is downloaded). Idempotent and quick when
# chromium is already there. Override the binary the tests use with MNV2_CHROMIUM=/path/to/chrome.
set -euo pipefail

if [ -n "${MNV2_CHROMIUM:-}" ] && [ -x "${MNV2_CHROMIUM}" ]; then
  echo "[setup-chromium] using MNV2_CHROMIUM=${MNV2_CHROMIUM}"
  exit 0
fi

if command -v chromium >/dev/null 2>&1 && [ -x /usr/bin/chromium ]; then
  echo "[setup-chromium] $(chromium --version 2>/dev/null | head -n1 || echo chromium) already installed"
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "[setup-chromium] no apt-get: install Chromium/Chrome 113+ yourself and set MNV2_CHROMIUM to its binary" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

echo "[setup-chromium] installing chromium (Debian package)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
if [ -x /usr/bin/chromium ]; then
  echo "[setup-chromium] installed $(chromium --version 2>/dev/null | head -n1)"
  exit 0
fi
echo "[setup-chromium] could not install chromium" >&2
exit 1
