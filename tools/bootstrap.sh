#!/usr/bin/env bash
# Create the project's virtual environment with a Python >= 3.12 found on this machine.
# Usage: tools/bootstrap.sh [VENV_DIR]     (PYTHON=/path/to/python overrides the search)
set -euo pipefail
venv="${1:-.venv}"

is_ok() {  # a Python interpreter >= 3.12 with venv support
    "$1" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}

find_python() {
    local candidates=()
    [ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
    candidates+=(python3.12 python3.13 python3.14 python3)
    local root
    for root in "$(pyenv root 2>/dev/null || true)" "${PYENV_ROOT:-}" "$HOME/.pyenv"; do
        [ -n "$root" ] || continue
        for path in "$root"/versions/3.1[2-9]*/bin/python "$root"/versions/3.[2-9][0-9]*/bin/python; do
            [ -x "$path" ] && candidates+=("$path")
        done
    done
    local c
    for c in "${candidates[@]}"; do
        if command -v "$c" >/dev/null 2>&1 && is_ok "$(command -v "$c")"; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

if [ -x "$venv/bin/python" ] && is_ok "$venv/bin/python"; then
    python="$venv/bin/python"
else
    if ! base="$(find_python)"; then
        cat >&2 <<'MSG'
error: sourced_neuron needs Python 3.12 or newer (Brian2 2.10.1 requires it), and none was found
on PATH (python3.12, python3.13, python3) or under pyenv (`pyenv root`/versions/3.12.*).
Install one, for example:
    pyenv install 3.12            # with pyenv
    apt-get install python3.12-venv   # on a Debian/Ubuntu release that ships it
or point to it:  PYTHON=/path/to/python3.12 make test
MSG
        exit 1
    fi
    echo "using $base ($("$base" --version 2>&1))"
    rm -rf "$venv"
    "$base" -m venv "$venv"
    python="$venv/bin/python"
fi

# System packages that NESTML's generated C++ needs (the NEST backend) and the Java runtime of
# jNeuroML (jLEMS runs of NeuroML exports); skipped where they are present.
system_packages="cmake g++ make libboost-dev libltdl-dev libgsl-dev default-jre-headless"
missing=""
for package in $system_packages; do
    dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing system packages:$missing"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
        echo "warning: the NEST backend needs:$missing (apt-get install$missing); its tests will be skipped" >&2
    fi
fi

"$python" -m pip install --quiet --upgrade pip
"$python" -m pip install --quiet -e ".[test,nest,inference,neuroml]"
echo "environment ready: $venv ($("$python" --version 2>&1))"
