#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft) from Maven Central jars, for local runs, tests and CI.
# Needs only Java 17+ and Maven (Maven Central reachable once, for `fetch`). No Docker.
#
#   bash infra/kafka/kafka.sh fetch|start|stop|status|ensure|logs [-f]
#
# Environment:
#   KAFKA_PORT             broker listener on 127.0.0.1 (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener on 127.0.0.1 (default 9093)
#   TOLLGATE_KAFKA_DIR     data, logs, pidfile, rendered config (default <repo>/.tollgate/kafka)
#   KAFKA_HEAP_OPTS        JVM heap (default -Xms256m -Xmx512m)
#   KAFKA_START_TIMEOUT    seconds to wait for "Kafka Server started" (default 120)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
LIBS="$HERE/.libs"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KDIR="${TOLLGATE_KAFKA_DIR:-$REPO/.tollgate/kafka}"
DATA="$KDIR/data"
LOGS="$KDIR/logs"
CONF="$KDIR/server.properties"
PIDFILE="$KDIR/kafka.pid"
HEAP="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
STOP_TIMEOUT=30

say() { printf 'kafka: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

need_java() {
  command -v java >/dev/null 2>&1 || die "java not found (Java 17 or newer is required)"
}

# The stamp records which pom the jars came from: a changed pom fetches again.
pom_stamp() { sha256sum "$HERE/pom.xml" | cut -d' ' -f1; }

libs_complete() {
  [[ -f "$LIBS/.complete" ]] && [[ "$(cat "$LIBS/.complete")" == "$(pom_stamp)" ]] && compgen -G "$LIBS/kafka_2.13-*.jar" >/dev/null
}

cmd_fetch() {
  if libs_complete; then return 0; fi
  need_java
  command -v mvn >/dev/null 2>&1 || die "mvn not found (Maven is needed once, to fetch the Kafka jars from Maven Central)"
  say "fetching Kafka jars from Maven Central into $LIBS"
  local tmp="$HERE/.libs.tmp.$$"
  rm -rf "$tmp"
  if ! (cd "$HERE" && mvn -B -q -Dstyle.color=never -f "$HERE/pom.xml" dependency:copy-dependencies -DoutputDirectory="$tmp" -DincludeScope=runtime); then
    rm -rf "$tmp"
    die "mvn dependency:copy-dependencies failed (see above)"
  fi
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  pom_stamp >"$LIBS/.complete"
}

# Pid of our broker if it runs, else nothing. The command line is checked, so a stale
# pidfile whose pid was reused by another process does not count.
running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

render_config() {
  mkdir -p "$DATA" "$LOGS"
  local line out=""
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line//@PORT@/$PORT}"
    line="${line//@CONTROLLER_PORT@/$CONTROLLER_PORT}"
    line="${line//@DATA_DIR@/$DATA}"
    out+="$line"$'\n'
  done <"$HERE/server.properties.template"
  printf '%s' "$out" >"$CONF"
}

format_storage() {
  [[ -f "$DATA/meta.properties" ]] && return 0
  local id
  id="$(java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
  [[ -n "$id" ]] || die "could not generate a cluster id"
  say "formatting $DATA (cluster id $id)"
  java -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$LOGS" \
    -cp "$LIBS/*" kafka.tools.StorageTool format -t "$id" -c "$CONF" --ignore-formatted >"$LOGS/format.out" 2>&1 ||
    { cat "$LOGS/format.out" >&2; die "storage format failed"; }
}

tail_log() {
  local f
  for f in "$LOGS/kafka.out" "$LOGS/server.log"; do
    [[ -s "$f" ]] || continue
    printf -- '--- %s (last 40 lines) ---\n' "$f" >&2
    tail -n 40 "$f" >&2
  done
}

cmd_start() {
  if pid="$(running_pid)"; then
    say "already running (pid $pid) on 127.0.0.1:$PORT"
    return 0
  fi
  cmd_fetch
  need_java
  if port_open "$PORT"; then die "127.0.0.1:$PORT is already in use by another process (set KAFKA_PORT)"; fi
  if port_open "$CONTROLLER_PORT"; then die "127.0.0.1:$CONTROLLER_PORT is already in use by another process (set KAFKA_CONTROLLER_PORT)"; fi
  render_config
  format_storage
  # A fresh log per start, so readiness is read from this start's lines only.
  [[ -f "$LOGS/server.log" ]] && mv -f "$LOGS/server.log" "$LOGS/server.log.prev"
  : >"$LOGS/server.log"
  say "starting on 127.0.0.1:$PORT (data $KDIR)"
  local launcher=()
  command -v setsid >/dev/null 2>&1 && launcher=(setsid)
  # shellcheck disable=SC2086 # HEAP is a list of JVM options
  nohup "${launcher[@]}" java $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$LOGS" \
    -cp "$LIBS/*" kafka.Kafka "$CONF" >"$LOGS/kafka.out" 2>&1 </dev/null 9>&- &
  local pid=$!
  echo "$pid" >"$PIDFILE"
  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if grep -q 'Kafka Server started' "$LOGS/server.log" 2>/dev/null; then
      say "started (pid $pid)"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      tail_log
      rm -f "$PIDFILE"
      die "the broker exited during start"
    fi
    sleep 0.5
  done
  tail_log
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
  die "not started after ${START_TIMEOUT}s"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PIDFILE"
    say "not running"
    return 0
  fi
  say "stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    say "still running after ${STOP_TIMEOUT}s, killing"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  say "stopped"
}

cmd_status() {
  local pid
  if pid="$(running_pid)" && port_open "$PORT"; then
    say "running (pid $pid) on 127.0.0.1:$PORT, data $KDIR"
    return 0
  fi
  say "not running"
  return 1
}

cmd_ensure() {
  local pid
  if pid="$(running_pid)"; then
    if port_open "$PORT"; then return 0; fi
    say "pid $pid does not answer on 127.0.0.1:$PORT; restarting"
    cmd_stop
  fi
  cmd_fetch
  cmd_start
}

cmd_logs() {
  [[ -f "$LOGS/server.log" ]] || die "no log yet ($LOGS/server.log)"
  if [[ "${1:-}" == "-f" ]]; then exec tail -n 100 -F "$LOGS/server.log"; fi
  tail -n "${1:-100}" "$LOGS/server.log"
}

# fetch/start/stop/ensure of one data directory run one at a time (parallel test runners).
with_lock() {
  mkdir -p "$KDIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$KDIR/.lock"
    flock -w 180 9 || die "another kafka.sh holds $KDIR/.lock"
  fi
  "$@"
}

case "${1:-}" in
  fetch) with_lock cmd_fetch ;;
  start) with_lock cmd_start ;;
  stop) with_lock cmd_stop ;;
  status) cmd_status ;;
  ensure) with_lock cmd_ensure ;;
  logs) shift; cmd_logs "$@" ;;
  *)
    echo "usage: $0 fetch|start|stop|status|ensure|logs [-f|N]" >&2
    exit 2
    ;;
esac
