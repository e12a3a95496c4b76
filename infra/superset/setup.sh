#!/usr/bin/env bash
# Installs Apache Superset (PyPI) into a venv cached under $TOLLGATE_CACHE/superset-<version>-<constraints hash>
# and prints the venv's path on stdout. Idempotent: a venv that finished installing (marker file) is reused.
# Needs Python 3.11 (TOLLGATE_PYTHON, default python3.11, else python3).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version=6.1.0
cache="${TOLLGATE_CACHE:-$HOME/.cache/tollgate}"
py="${TOLLGATE_PYTHON:-$(command -v python3.11 || command -v python3)}"
cons="$here/constraints.txt"
key="$( (cat "$here/requirements.txt"; if [ -f "$cons" ]; then cat "$cons"; fi) | sha256sum | cut -c1-12)"
venv="$cache/superset-$version-$key"
# Installed already: nothing to lock or write (the cache may be read-only to this user, as in
# infra/superset/Dockerfile's image, which installs at build time).
if [ -f "$venv/.installed" ]; then echo "$venv"; exit 0; fi
mkdir -p "$cache"
# One install at a time per venv (two runs on one machine, a test and CI): the second waits,
# then finds the marker. A venv is not relocatable, so it is built in place, under the lock.
exec 9>"$venv.lock"
flock 9
if [ ! -f "$venv/.installed" ]; then
  rm -rf "$venv"
  mkdir -p "$cache"
  echo "installing Superset $version into $venv" >&2
  "$py" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check --upgrade 'pip<26' >&2
  if [ -f "$cons" ]; then
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt" -c "$cons" >&2
  else
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt" >&2
  fi
  touch "$venv/.installed"
fi
echo "$venv"
