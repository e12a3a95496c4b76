// Root-only test topology of real network namespaces (no mocks): a "node" namespace routing
// between two "pods" and an "internet" host, with kube-proxy-like nftables DNAT for a Service IP,
// masquerade to the internet, and nftables counters as an independent truth of the bytes that
// crossed the node (conntrack and nft count the same L3 packet lengths).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export const TRAFFIC = fileURLToPath(new URL('./testdata/traffic.mjs', import.meta.url));

/** Why kernel tests cannot run here, or undefined. In CI (CI=true) the caller fails instead of skipping. */
export function kernelUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: the kernel conntrack tests need root (network namespaces, nftables)';
  for (const bin of ['conntrack', 'nft', 'ip']) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    } catch {
      return `${bin} is missing (apt-get install conntrack nftables iproute2; .ci/setup.d/20-conntrack.sh)`;
    }
  }
  return undefined;
}

const sh = (cmd: string, args: string[], input?: string) => execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });

export interface Topology {
  node: string;
  a: string;
  b: string;
  inet: string;
  /** Runs a command in a namespace, returns stdout. */
  exec(ns: string, args: string[], input?: string): string;
  /** Reads and resets named nft counters of the node: bytes per counter. */
  counters(): Record<string, number>;
  /** The traffic script in a namespace; resolves with its parsed last stdout line. */
  traffic<T>(ns: string, args: string[]): Promise<T>;
  /** A long-lived stream client: `send(n)` writes n bytes (resolves with its local port once written). */
  stream(ns: string, host: string, port: number): Promise<{ send(n: number): Promise<number>; close(): Promise<void> }>;
  destroy(): void;
}

const COUNTERS = ['ab', 'ba', 'ai', 'ia', 'ab6', 'ba6', 'ai6', 'ia6'];

export async function createTopology(): Promise<Topology> {
  const id = `${process.pid % 100000}`;
  const node = `tgn${id}`;
  const a = `tga${id}`;
  const b = `tgb${id}`;
  const inet = `tgi${id}`;
  const all = [node, a, b, inet];
  for (const ns of all) {
    try {
      sh('ip', ['netns', 'del', ns]);
    } catch {
      /* not there */
    }
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  const link = (peer: string, ifn: string, v4: string, gw4: string, v6: string, gw6: string) => {
    sh('ip', ['-n', node, 'link', 'add', ifn, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peer]);
    sh('ip', ['-n', node, 'addr', 'add', `${gw4}/24`, 'dev', ifn]);
    sh('ip', ['-n', node, 'addr', 'add', `${gw6}/64`, 'dev', ifn, 'nodad']);
    sh('ip', ['-n', node, 'link', 'set', ifn, 'up']);
    sh('ip', ['-n', peer, 'addr', 'add', `${v4}/24`, 'dev', 'eth0']);
    sh('ip', ['-n', peer, 'addr', 'add', `${v6}/64`, 'dev', 'eth0', 'nodad']);
    sh('ip', ['-n', peer, 'link', 'set', 'eth0', 'up']);
  };
  link(a, 'a0', '10.244.1.2', '10.244.1.1', 'fd00:1::2', 'fd00:1::1');
  link(b, 'b0', '10.244.2.2', '10.244.2.1', 'fd00:2::2', 'fd00:2::1');
  link(inet, 'i0', '203.0.113.9', '203.0.113.1', '2001:db8:9::9', '2001:db8:9::1');
  for (const [ns, gw4, gw6] of [
    [a, '10.244.1.1', 'fd00:1::1'],
    [b, '10.244.2.1', 'fd00:2::1'],
  ] as const) {
    sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', gw4]);
    sh('ip', ['-n', ns, '-6', 'route', 'add', 'default', 'via', gw6]);
  }
  const exec = (ns: string, args: string[], input?: string) => sh('ip', ['netns', 'exec', ns, ...args], input);
  for (const k of ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.netfilter.nf_conntrack_acct=1']) exec(node, ['sysctl', '-qw', k]);
  const counters = COUNTERS.map((c) => `counter ${c} {}`).join('\n  ');
  exec(
    node,
    ['nft', '-f', '-'],
    `table inet tg {
  ${counters}
  chain pre {
    type nat hook prerouting priority dstnat;
    ip daddr 10.96.0.10 tcp dport 80 dnat ip to 10.244.2.2:8080
    ip daddr 10.96.0.10 udp dport 53 dnat ip to 10.244.2.2:5353
  }
  chain post {
    type nat hook postrouting priority srcnat;
    oifname "i0" masquerade
  }
  chain filt {
    type filter hook forward priority filter;
    ip saddr 10.244.1.2 ip daddr 10.244.2.2 counter name "ab"
    ip saddr 10.244.2.2 ip daddr 10.244.1.2 counter name "ba"
    ip saddr 10.244.1.2 ip daddr 203.0.113.9 counter name "ai"
    ip saddr 203.0.113.9 ip daddr 10.244.1.2 counter name "ia"
    ip6 saddr fd00:1::2 ip6 daddr fd00:2::2 counter name "ab6"
    ip6 saddr fd00:2::2 ip6 daddr fd00:1::2 counter name "ba6"
    ip6 saddr fd00:1::2 ip6 daddr 2001:db8:9::9 counter name "ai6"
    ip6 saddr 2001:db8:9::9 ip6 daddr fd00:1::2 counter name "ia6"
  }
}
`,
  );
  const children: ChildProcess[] = [];
  const startServer = async (ns: string, resp: number, udp: number) => {
    const c = spawn('ip', ['netns', 'exec', ns, process.execPath, TRAFFIC, 'server', String(resp), String(udp)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(c);
    const [line] = (await once(createInterface({ input: c.stdout! }), 'line')) as [string];
    if (line !== 'ready') throw new Error(`server in ${ns}: ${line}`);
  };
  await startServer(b, 70_000, 700);
  await startServer(inet, 9_000, 900);
  return {
    node,
    a,
    b,
    inet,
    exec,
    counters() {
      const out: Record<string, number> = {};
      const j = JSON.parse(exec(node, ['nft', '-j', 'reset', 'counters', 'table', 'inet', 'tg'])) as { nftables: Array<{ counter?: { name: string; bytes: number } }> };
      for (const x of j.nftables) if (x.counter) out[x.counter.name] = x.counter.bytes;
      return out;
    },
    async traffic<T>(ns: string, args: string[]): Promise<T> {
      const c = spawn('ip', ['netns', 'exec', ns, process.execPath, TRAFFIC, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const [code] = (await once(c, 'close')) as [number];
      if (code !== 0) throw new Error(`traffic ${args.join(' ')} exited ${code}`);
      return JSON.parse(out.trim().split('\n').pop()!) as T;
    },
    async stream(ns, host, port) {
      const c = spawn('ip', ['netns', 'exec', ns, process.execPath, TRAFFIC, 'stream', host, String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
      children.push(c);
      const lines = createInterface({ input: c.stdout! })[Symbol.asyncIterator]();
      return {
        async send(n: number) {
          c.stdin!.write(`${n}\n`);
          const r = await lines.next();
          return Number(String(r.value).split(' ')[1]);
        },
        async close() {
          c.stdin!.end('end\n');
          await once(c, 'close');
        },
      };
    },
    destroy() {
      for (const c of children) c.kill('SIGKILL');
      for (const ns of all) {
        try {
          sh('ip', ['netns', 'del', ns]);
        } catch {
          /* gone */
        }
      }
    },
  };
}
