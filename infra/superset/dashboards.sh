#!/usr/bin/env bash
# Tollgate's Superset dashboards on a store: installs Superset (cached venv, setup.sh), builds the
# bundle (bundle.ts), sets up Superset's metadata, imports the bundle with Superset's own CLI, and
# serves it on 127.0.0.1.
#
#   bash infra/superset/dashboards.sh [--store DIR | --url http://user:pw@host:8123] [--database tollgate]
#                                     [--home .tollgate/superset] [--port 8088] [--password admin] [--prepare-only]
#
# Embedded chDB store: Superset opens it for each query, so the process that writes it (the sink,
# the demo) must have stopped; chDB allows one process on a directory at a time.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
store=.tollgate/chdb url='' database=tollgate home=.tollgate/superset port=8088 password=admin prepare_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --store) store="$2"; shift 2 ;;
    --url) url="$2"; shift 2 ;;
    --database) database="$2"; shift 2 ;;
    --home) home="$2"; shift 2 ;;
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
if [ -n "$url" ]; then
  # http://user:pw@host:8123 -> clickhousedb://user:pw@host:8123/<database>
  uri="clickhousedb://${url#*://}"
  uri="${uri%/}/$database"
else
  mkdir -p "$store"
  uri="clickhousedb:///$database?interface=chdb&path=$(cd "$store" && pwd)"
fi
node_bin=(node)
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 24 ? 0 : 1)' 2>/dev/null || node_bin=(npx --no-install node)
"${node_bin[@]}" "$here/bundle.ts" "$home/bundle.zip" "$uri" "$database"
sup="$venv/bin/superset"
"$sup" db upgrade >"$home/setup.log" 2>&1
"$sup" fab create-admin --username admin --firstname Tollgate --lastname Admin --email admin@localhost --password "$password" >>"$home/setup.log" 2>&1
"$sup" init >>"$home/setup.log" 2>&1
"$sup" import-dashboards -p "$home/bundle.zip" -u admin >>"$home/setup.log" 2>&1
echo "dashboards imported into $home (log: $home/setup.log)" >&2
[ "$prepare_only" = 1 ] && exit 0
echo "serving on http://127.0.0.1:$port (admin / the password given)" >&2
exec "$sup" run -h 127.0.0.1 -p "$port" --with-threads
