#!/usr/bin/env bash
# Make .venv with the harness installed (editable). On a fresh Debian machine
# as root, first install what creating a virtualenv needs.
set -euo pipefail
venv=${1:-.venv}
say() { printf '[setup] %s\n' "$*" >&2; }

if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing python3-venv (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv python3-pip
  else
    say "python3 cannot make a virtualenv: install python3-venv (Debian) and run again"
    exit 1
  fi
fi
if [ ! -x "$venv/bin/python" ]; then
  say "creating the virtualenv $venv"
  python3 -m venv "$venv"
fi
say "installing chaos-harness and its dependencies into $venv (a minute on a new machine)"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]'
say "ready: $venv/bin/drill"
