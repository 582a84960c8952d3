#!/usr/bin/env bash
# Install Debian's chromium for tests/e2e/test_swagger_ui.py. Idempotent and non-interactive: does nothing when
# /usr/bin/chromium is present. `ensure-chromium.sh --check` only tells (exit 0: installed, 1: missing).
# Exit 2: this machine cannot install (no apt-get, or neither root nor password-less sudo).
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [[ -x "$CHROMIUM" ]]; then
    echo "chromium already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
    exit 0
fi
if [[ "${1:-}" == "--check" ]]; then
    echo "chromium is not installed ($CHROMIUM missing)"
    exit 1
fi

command -v apt-get >/dev/null 2>&1 || { echo "ensure-chromium: apt-get not found (Debian/Ubuntu only)" >&2; exit 2; }
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    if ! command -v sudo >/dev/null 2>&1 || ! sudo -n true 2>/dev/null; then
        echo "ensure-chromium: installing needs root or password-less sudo" >&2
        exit 2
    fi
    SUDO=(sudo -n)
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "chromium installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
