#!/usr/bin/env bash
# Installs the system libraries Reel builds against, only those missing. Debian/Ubuntu (apt) or macOS (Homebrew).
# Safe to re-run; does nothing when everything is there.
set -euo pipefail

apt_packages=(libopenblas-dev libzstd-dev libjson-c-dev pkg-config ffmpeg)
brew_packages=(openblas zstd json-c pkg-config ffmpeg)

if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${apt_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "setup: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
elif command -v brew >/dev/null 2>&1; then
  for p in "${brew_packages[@]}"; do
    brew list --versions "$p" >/dev/null 2>&1 || brew install "$p"
  done
else
  echo "setup: neither apt-get nor brew found; install OpenBLAS, zstd, json-c, pkg-config and ffmpeg by hand" >&2
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "setup: a Swift 6 toolchain is needed (https://www.swift.org/install/) and 'swift' is not on PATH" >&2
  exit 1
fi
