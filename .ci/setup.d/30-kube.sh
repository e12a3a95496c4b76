# A real kube-apiserver + etcd for the enricher's tests (infra/kube/kube.sh): etcd from Debian,
# kube-apiserver built once from the Go module proxy into $TOLLGATE_CACHE/kube-apiserver-<version>
# (4-8 min cold, then skipped). Built here, before the tests, never in parallel with them.
if ! command -v etcd >/dev/null 2>&1; then
  echo "== apt-get install etcd-server"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server
fi
command -v go >/dev/null 2>&1 || { echo "30-kube.sh: go not found (Go >= 1.24 builds kube-apiserver)" >&2; return 1; }
bash infra/kube/kube.sh build
TOLLGATE_KUBE_APISERVER_BIN="$(bash infra/kube/kube.sh bin)"
export TOLLGATE_KUBE_APISERVER_BIN
