# Superset (issue 8): Apache Superset from PyPI in a venv cached under
# $TOLLGATE_CACHE/superset-<version>-<hash of requirements + constraints> (infra/superset/setup.sh;
# a later run on the same machine reuses it), and Debian's Chromium for the dashboard render test
# (test/superset.test.ts), installed only if missing. Exports what the test reads.
if ! command -v chromium >/dev/null; then
  echo "== apt-get install chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
export TOLLGATE_CHROMIUM="$(command -v chromium)"
export TOLLGATE_PYTHON="${TOLLGATE_PYTHON:-$(command -v python3.11 || command -v python3)}"
TOLLGATE_SUPERSET_VENV="$(bash infra/superset/setup.sh)"
export TOLLGATE_SUPERSET_VENV
echo "== Superset venv: $TOLLGATE_SUPERSET_VENV"
