#!/usr/bin/env bash
# Tollgate's Superset dashboards on a store: installs Superset (cached venv, setup.sh), builds the
# bundle (bundle.ts), sets up Superset's metadata, imports the bundle with Superset's own CLI, and
# serves it.
#
#   bash infra/superset/dashboards.sh [--store DIR | --url http://host:8123] [--database tollgate]
#                                     [--bundle FILE] [--home .tollgate/superset] [--host 127.0.0.1]
#                                     [--port 8088] [--password admin] [--prepare-only]
#
# The store is the one every Tollgate command reads, from the same settings: without --store or
# --url, TOLLGATE_CLICKHOUSE_URL (user TOLLGATE_CLICKHOUSE_USER, password TOLLGATE_CLICKHOUSE_PASSWORD,
# database TOLLGATE_CLICKHOUSE_DATABASE) else the embedded store in TOLLGATE_DATA_DIR. A server's
# password stays in the environment: Superset reads it from there for each query (superset_config.py),
# it is in neither the bundle, Superset's metadata nor a command line.
# --bundle imports a bundle bundle.ts wrote before (docker-compose.yml: its superset-bundle service
# writes it, this image has no Node) instead of building one.
# The admin password: --password, else SUPERSET_ADMIN_PASSWORD, else admin.
#
# Embedded chDB store: Superset opens it for each query, so the process that writes it (the sink,
# the demo) must have stopped; chDB allows one process on a directory at a time.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bundle='' home=.tollgate/superset host=127.0.0.1 port=8088 password="${SUPERSET_ADMIN_PASSWORD:-admin}" prepare_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --store) export TOLLGATE_DATA_DIR="$2" TOLLGATE_CLICKHOUSE_URL=''; shift 2 ;;
    --url) export TOLLGATE_CLICKHOUSE_URL="$2"; shift 2 ;;
    --database) export TOLLGATE_CLICKHOUSE_DATABASE="$2"; shift 2 ;;
    --bundle) bundle="$2"; shift 2 ;;
    --home) home="$2"; shift 2 ;;
    --host) host="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --password) password="$2"; shift 2 ;;
    --prepare-only) prepare_only=1; shift ;;
    *) echo "dashboards.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
venv="$(bash "$here/setup.sh")"
mkdir -p "$home"
home="$(cd "$home" && pwd)"
[ -f "$home/secret_key" ] || (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$home/secret_key")
export SUPERSET_HOME="$home" SUPERSET_CONFIG_PATH="$here/superset_config.py" FLASK_APP=superset PYTHONWARNINGS=ignore
if [ -z "$bundle" ]; then
  bundle="$home/bundle.zip"
  node_bin=(node)
  node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 24 ? 0 : 1)' 2>/dev/null || node_bin=(npx --no-install node)
  "${node_bin[@]}" "$here/bundle.ts" "$bundle"
fi
sup="$venv/bin/superset"
"$sup" db upgrade >"$home/setup.log" 2>&1
# An admin made before (a kept home) stays as it is; fab create-admin leaves it alone.
"$sup" fab create-admin --username admin --firstname Tollgate --lastname Admin --email admin@localhost --password "$password" >>"$home/setup.log" 2>&1
"$sup" init >>"$home/setup.log" 2>&1
"$sup" import-dashboards -p "$bundle" -u admin >>"$home/setup.log" 2>&1
echo "dashboards imported into $home (log: $home/setup.log)" >&2
[ "$prepare_only" = 1 ] && exit 0
echo "serving on http://$host:$port (admin / the password given)" >&2
exec "$sup" run -h "$host" -p "$port" --with-threads
