#!/usr/bin/env bash
# Makes a software WebGPU adapter available to the `webgpu` (Dawn) package on Debian 12.
# Prefers Mesa lavapipe >= 24 from bookworm-backports (~3x faster); falls back to SwiftShader from
# Debian's chromium package. Idempotent and quick when already done.
set -euo pipefail

LVP_ICD=/usr/share/vulkan/icd.d/lvp_icd.json
SWS_ICD=/usr/lib/chromium/vk_swiftshader_icd.json

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

mesa_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed -E 's/^[0-9]+://' | cut -d. -f1; }

have_lavapipe() {
  local v; v=$(mesa_version || true)
  [ -n "$v" ] && [ "$v" -ge 24 ] 2>/dev/null && ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1
}

if have_lavapipe; then
  echo "[setup-vulkan] lavapipe (mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)) already installed"
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "[setup-vulkan] no apt-get: install a Vulkan driver yourself (Mesa lavapipe >= 24 or SwiftShader)" >&2
  exit 1
fi

. /etc/os-release
if [ "${VERSION_CODENAME:-}" = bookworm ]; then
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "[setup-vulkan] adding bookworm-backports"
    echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/mnv2-backports.list >/dev/null
  fi
  $SUDO apt-get update -qq
  if DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null; then
    have_lavapipe && { echo "[setup-vulkan] installed lavapipe $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"; exit 0; }
  fi
else
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null || true
  have_lavapipe && { echo "[setup-vulkan] installed lavapipe"; exit 0; }
fi

echo "[setup-vulkan] lavapipe unavailable; falling back to SwiftShader from chromium"
[ -f "$SWS_ICD" ] || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium libvulkan1 >/dev/null
[ -f "$SWS_ICD" ] && { echo "[setup-vulkan] SwiftShader at $SWS_ICD (set VK_ICD_FILENAMES=$SWS_ICD)"; exit 0; }
echo "[setup-vulkan] could not install a software Vulkan driver" >&2
exit 1
