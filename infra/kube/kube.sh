#!/usr/bin/env bash
# A real kube-apiserver (built from the Go module proxy) with etcd (Debian etcd-server) on
# loopback, for the enricher's tests, CI and the benchmark. No controllers, scheduler or kubelet.
#
#   bash infra/kube/kube.sh build|start|stop|status|ensure|env
#
#   build   build kube-apiserver once into $TOLLGATE_CACHE/kube-apiserver-<version>/ (skipped when
#           the stamped binary is there); needs Go >= 1.24 and the Go module proxy
#   start   PKI, etcd and the apiserver on loopback; waits for /readyz
#   stop    SIGTERM apiserver then etcd, by pid (idempotent)
#   ensure  start unless running
#   env     print the environment the tests read (KUBE_TEST_DIR, TOLLGATE_KUBE_APISERVER_URL, ...)
#
# Environment:
#   TOLLGATE_CACHE          build cache root (default ~/.cache/tollgate)
#   TOLLGATE_KUBE_DIR       state: pki, tokens, etcd data link, logs, pids (default <repo>/.tollgate/kube)
#   KUBE_APISERVER_PORT     secure port (default 16443); etcd uses KUBE_ETCD_PORT (default 12379)
#                           and KUBE_ETCD_PORT+1 (peers)
#   KUBE_STORAGE_MEDIA_TYPE how the apiserver stores objects in etcd (default its protobuf;
#                           application/json lets a test edit a stored object: test/support/kube-sim.ts)
#   TOLLGATE_KUBE_APISERVER_BIN  use this binary instead of building
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VERSION=v1.34.4
STAGING=v0.34.4
CACHE="${TOLLGATE_CACHE:-$HOME/.cache/tollgate}"
BUILD_DIR="$CACHE/kube-apiserver-$VERSION"
BIN="${TOLLGATE_KUBE_APISERVER_BIN:-$BUILD_DIR/kube-apiserver}"
KDIR="${TOLLGATE_KUBE_DIR:-$REPO/.tollgate/kube}"
PORT="${KUBE_APISERVER_PORT:-16443}"
ETCD_PORT="${KUBE_ETCD_PORT:-12379}"
ETCD_PEER_PORT=$((ETCD_PORT + 1))
STORAGE_MEDIA_TYPE="${KUBE_STORAGE_MEDIA_TYPE:-application/vnd.kubernetes.protobuf}"
PKI="$KDIR/pki"
LOGS="$KDIR/logs"

say() { printf 'kube: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

STAGING_MODULES=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
  cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api cri-client
  csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
  kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics mount-utils
  pod-security-admission sample-apiserver sample-cli-plugin sample-controller)

stamp() { echo "$VERSION"; }

built() { [[ -x "$BIN" ]] && { [[ -n "${TOLLGATE_KUBE_APISERVER_BIN:-}" ]] || [[ "$(cat "$BUILD_DIR/.stamp" 2>/dev/null)" == "$(stamp)" ]]; }; }

cmd_build() {
  if built; then return 0; fi
  command -v go >/dev/null 2>&1 || die "go not found (Go >= 1.24 builds kube-apiserver from the module proxy)"
  say "building kube-apiserver $VERSION from the Go module proxy into $BUILD_DIR (cold: 4-8 min)"
  local src="$BUILD_DIR/src"
  mkdir -p "$src"
  {
    echo "module tollgate.local/kube-apiserver"
    echo
    echo "go 1.24.0"
    echo
    echo "godebug default=go1.24"
    echo
    echo "require ("
    echo "	k8s.io/component-base $STAGING"
    echo "	k8s.io/kubernetes $VERSION"
    echo ")"
    echo
    echo "replace ("
    local m
    for m in "${STAGING_MODULES[@]}"; do echo "	k8s.io/$m => k8s.io/$m $STAGING"; done
    echo ")"
  } >"$src/go.mod"
  cat >"$src/main.go" <<'GO'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
GO
  local vpkg=k8s.io/component-base/version
  (cd "$src" && GOTOOLCHAIN=local CGO_ENABLED=0 go mod tidy \
    && GOTOOLCHAIN=local CGO_ENABLED=0 go build -trimpath -o "$BIN.tmp" \
      -ldflags "-s -w -X $vpkg.gitVersion=$VERSION -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=34" .) \
    || die "kube-apiserver build failed (see above)"
  mv "$BIN.tmp" "$BIN"
  stamp >"$BUILD_DIR/.stamp"
  say "built $BIN"
}

# ---- run ----

pid_of() { # name cmdline-pattern
  local f="$KDIR/$1.pid" pid
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2" || return 1
  echo "$pid"
}
# Just started (by this script): alive by its pid alone (its cmdline may not show the exec yet).
started_alive() { local pid; pid="$(cat "$KDIR/$1.pid" 2>/dev/null || true)"; [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; }
etcd_pid() { pid_of etcd "etcd.*--listen-client-urls=http://127.0.0.1:$ETCD_PORT"; }
api_pid() { pid_of apiserver "kube-apiserver.*--secure-port=$PORT"; }

ready() { curl -fsS --max-time 2 --cacert "$PKI/ca.crt" "https://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; }

pki() {
  [[ -f "$PKI/.complete" ]] && return 0
  command -v openssl >/dev/null 2>&1 || die "openssl not found"
  rm -rf "$PKI"; mkdir -p "$PKI"
  (
    cd "$PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=tollgate-test-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=kube-apiserver" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >ext.cnf
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 3650 -extfile ext.cnf 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    # Tokens: an admin (system:masters) for the tests to write objects, and identities with no
    # groups that RBAC tests bind to roles (the enricher's ClusterRole, nothing).
    admin="$(openssl rand -hex 16)"; reader="$(openssl rand -hex 16)"; nobody="$(openssl rand -hex 16)"
    printf '%s,admin,admin-uid,"system:masters"\n%s,tollgate-enricher,enricher-uid\n%s,nobody,nobody-uid\n' "$admin" "$reader" "$nobody" >tokens.csv
    echo "$admin" >admin.token; echo "$reader" >enricher.token; echo "$nobody" >nobody.token
  )
  touch "$PKI/.complete"
}

kubeconfig() { # user token-file out
  cat >"$3" <<KC
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: "https://127.0.0.1:$PORT", certificate-authority: "$PKI/ca.crt"}
users:
- name: $1
  user: {token: "$(cat "$2")"}
contexts:
- name: test
  context: {cluster: test, user: $1}
current-context: test
KC
}

cmd_start() {
  mkdir -p "$KDIR"
  # Tests in parallel processes may all call `ensure`: one starts, the others wait and reuse it.
  exec 9>"$KDIR/.lock"
  flock -w 180 9 || die "another start holds $KDIR/.lock for 180 s"
  if api_pid >/dev/null && ready; then say "already running on 127.0.0.1:$PORT"; return 0; fi
  built || die "kube-apiserver not built: run 'bash infra/kube/kube.sh build' first (or set TOLLGATE_KUBE_APISERVER_BIN)"
  command -v etcd >/dev/null 2>&1 || die "etcd not found (apt-get install etcd-server)"
  mkdir -p "$KDIR" "$LOGS"
  pki
  kubeconfig admin "$PKI/admin.token" "$KDIR/admin.kubeconfig"
  kubeconfig tollgate-enricher "$PKI/enricher.token" "$KDIR/enricher.kubeconfig"
  kubeconfig nobody "$PKI/nobody.token" "$KDIR/nobody.kubeconfig"
  if ! etcd_pid >/dev/null; then
    # etcd's data on tmpfs when there is one: test state, fast, gone at reboot.
    local data
    if [[ -d /dev/shm && -w /dev/shm ]]; then data="/dev/shm/tollgate-etcd-$ETCD_PORT"; else data="$KDIR/etcd-data"; fi
    rm -rf "$data"
    setsid etcd --name tollgate --data-dir "$data" \
      --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
      --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-cluster="tollgate=http://127.0.0.1:$ETCD_PEER_PORT" --quota-backend-bytes=2147483648 \
      >"$LOGS/etcd.log" 2>&1 </dev/null 9>&- &
    echo $! >"$KDIR/etcd.pid"
    echo "$data" >"$KDIR/etcd.data"
    local i
    for i in $(seq 1 100); do
      curl -fsS --max-time 1 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"' && break
      started_alive etcd || die "etcd exited (see $LOGS/etcd.log)"
      sleep 0.2
    done
  fi
  if ! api_pid >/dev/null; then
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
      die "127.0.0.1:$PORT is held by another process (a kube-apiserver of another checkout?): stop it or set KUBE_APISERVER_PORT"
    fi
    setsid "$BIN" --etcd-servers="http://127.0.0.1:$ETCD_PORT" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
      --secure-port="$PORT" --cert-dir="$KDIR/certs" --tls-cert-file="$PKI/server.crt" --tls-private-key-file="$PKI/server.key" \
      --client-ca-file="$PKI/ca.crt" --token-auth-file="$PKI/tokens.csv" --authorization-mode=RBAC \
      --service-account-issuer="https://127.0.0.1:$PORT" --service-account-key-file="$PKI/sa.pub" \
      --service-account-signing-key-file="$PKI/sa.key" --service-cluster-ip-range=10.96.0.0/16 --allow-privileged=true \
      --disable-admission-plugins=ServiceAccount --endpoint-reconciler-type=none \
      --shutdown-watch-termination-grace-period=2s --watch-cache=true --storage-media-type="$STORAGE_MEDIA_TYPE" \
      >"$LOGS/apiserver.log" 2>&1 </dev/null 9>&- &
    echo $! >"$KDIR/apiserver.pid"
  fi
  local t=0
  until ready; do
    started_alive apiserver || die "kube-apiserver exited (see $LOGS/apiserver.log)"
    t=$((t + 1)); [[ $t -gt 300 ]] && die "kube-apiserver not ready after 60 s (see $LOGS/apiserver.log)"
    sleep 0.2
  done
  say "ready on https://127.0.0.1:$PORT (kubeconfigs in $KDIR)"
}

stop_pid() { # name pid
  kill -TERM "$2" 2>/dev/null || return 0
  local i
  for i in $(seq 1 150); do kill -0 "$2" 2>/dev/null || return 0; sleep 0.2; done
  say "$1 did not stop in 30 s, killing"; kill -KILL "$2" 2>/dev/null || true
}

cmd_stop() {
  local pid
  if pid="$(api_pid)"; then stop_pid kube-apiserver "$pid"; fi
  rm -f "$KDIR/apiserver.pid"
  if [[ "${1:-}" == "--apiserver-only" ]]; then return 0; fi
  if pid="$(etcd_pid)"; then stop_pid etcd "$pid"; fi
  rm -f "$KDIR/etcd.pid"
  if [[ -f "$KDIR/etcd.data" ]]; then rm -rf "$(cat "$KDIR/etcd.data")"; rm -f "$KDIR/etcd.data"; fi
}

cmd_status() {
  if api_pid >/dev/null && ready; then echo "running https://127.0.0.1:$PORT"; else echo "stopped"; return 1; fi
}

cmd_env() {
  echo "TOLLGATE_KUBE_DIR=$KDIR"
  echo "TOLLGATE_KUBE_URL=https://127.0.0.1:$PORT"
  echo "TOLLGATE_KUBE_ETCD_URL=http://127.0.0.1:$ETCD_PORT"
  echo "TOLLGATE_KUBE_APISERVER_BIN=$BIN"
}

case "${1:-}" in
  build) cmd_build ;;
  start) cmd_start ;;
  ensure) cmd_build && cmd_start ;;
  stop) shift; cmd_stop "${1:-}" ;;
  restart-apiserver) cmd_stop --apiserver-only && cmd_start ;;
  status) cmd_status ;;
  env) cmd_env ;;
  bin) echo "$BIN" ;;
  *) die "usage: kube.sh build|start|ensure|stop [--apiserver-only]|restart-apiserver|status|env|bin" ;;
esac
