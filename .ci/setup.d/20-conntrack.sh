# The agent's kernel tests (services/agent/src/kernel.test.ts, as root): conntrack-tools, nftables,
# iproute2 (ip netns), kmod (modprobe). Installed only when missing.
need=()
command -v conntrack >/dev/null 2>&1 || need+=(conntrack)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v modprobe >/dev/null 2>&1 || need+=(kmod)
if [ "${#need[@]}" -gt 0 ]; then
  echo "20-conntrack: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# nf_conntrack may be a module: load it so the first namespace's rules find it
modprobe nf_conntrack 2>/dev/null || true
