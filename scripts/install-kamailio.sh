#!/usr/bin/env bash
# Install Kamailio (Debian packages) and SIPp (`sip-tester`) for the SIP end-to-end tests. Idempotent and
# non-interactive: does nothing when kamailio, the modules the config loads and sipp are present.
# `install-kamailio.sh --check` only tells (exit 0: installed, 1: missing) and installs nothing.
# Exit 2: this machine cannot install (no apt-get, or neither root nor password-less sudo).
set -euo pipefail

MODULE_DIRS=(/usr/lib/x86_64-linux-gnu/kamailio/modules /usr/lib/aarch64-linux-gnu/kamailio/modules
             /usr/lib/kamailio/modules /usr/local/lib64/kamailio/modules /usr/local/lib/kamailio/modules)

has_module() {
    local dir
    for dir in "${MODULE_DIRS[@]}"; do
        [[ -f "$dir/$1.so" ]] && return 0
    done
    return 1
}

if command -v kamailio >/dev/null 2>&1 && has_module http_client && has_module jansson && has_module tls \
    && command -v sipp >/dev/null 2>&1; then
    echo "kamailio already installed: $(kamailio -v 2>/dev/null | head -n1); $(sipp -v 2>/dev/null | grep -o 'SIPp v[0-9.]*' | head -n1)"
    exit 0
fi
if [[ "${1:-}" == "--check" ]]; then
    echo "kamailio (with http_client, jansson, tls) or sipp is not installed"
    exit 1
fi

command -v apt-get >/dev/null 2>&1 || { echo "install-kamailio: apt-get not found (Debian/Ubuntu only)" >&2; exit 2; }
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    if ! command -v sudo >/dev/null 2>&1 || ! sudo -n true 2>/dev/null; then
        echo "install-kamailio: installing needs root or password-less sudo" >&2
        exit 2
    fi
    SUDO=(sudo -n)
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
# The package's service must not start on install (policy-rc.d may be absent): it is stopped right after if it did.
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    kamailio kamailio-utils-modules kamailio-extra-modules kamailio-tls-modules sip-tester openssl >/dev/null
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet kamailio 2>/dev/null; then
    "${SUDO[@]}" systemctl stop kamailio || true
fi
echo "kamailio installed: $(kamailio -v 2>/dev/null | head -n1)"
