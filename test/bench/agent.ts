// Agent benchmarks (issue 6). Each measurement runs in a child process of its own (one JS thread:
// one core) so its peak RSS is the agent's alone; the input is streamed (64 KiB chunks), never
// held whole.
//   agent_cycle_ms_1m         one poll over a synthetic `conntrack -L -o extended,id` dump of N entries
//                             (N tracked, 10% grown since the baseline): scan, deltas, Avro batches
//   agent_split_ms_1m         baseline: only splitting the same input into lines
//   agent_rss_mb_1m           peak RSS of that child (N entries tracked)
//   agent_kernel_cycle_ms_1m  one poll of the real agent (conntrack -L piped into the engine) on a
//                             REAL kernel table of N entries in a network namespace
//   conntrack_list_ms_1m      baseline: `conntrack -L -o extended,id > /dev/null` on the same table
// N = TOLLGATE_BENCH_AGENT_ENTRIES (default 1,000,000; smaller for a quick local run).
import { execFileSync, spawn } from 'node:child_process';
import { createReadStream, createWriteStream, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatEntry, LineSplitter } from '@tollgate/conntrack';
import { AgentEngine, KernelConntrack } from '@tollgate/agent';
import { createLogger } from '@tollgate/log';
import { SchemaRegistry } from '@tollgate/schema';

const SELF = fileURLToPath(import.meta.url);
const log = (s: string) => process.stderr.write(`${s}\n`);

function engine() {
  let flows = 0;
  // the output acknowledges at once: the cycle's own cost, not Kafka's
  const e = new AgentEngine({ cluster: 'bench', node: 'n', agentId: 'n@bench', batchMaxFlows: 500, encoding: 'avro', registry: SchemaRegistry.load(), buffer: { soft: false, hard: false, push: (i) => void (flows += i.flows) } });
  return { e, flows: () => flows };
}

async function feed(path: string, f: (b: Buffer) => void): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 })) f(chunk as Buffer);
}

/**
 * Peak RSS of this process: VmHWM of /proc/self/status (per address space). Not getrusage's
 * ru_maxrss, which Linux carries across exec from the forked copy of the (larger) parent.
 */
function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

async function child(mode: string, args: string[]): Promise<void> {
  let out: Record<string, number> = {};
  if (mode === 'split') {
    let lines = 0;
    const sp = new LineSplitter(() => void lines++);
    const t = performance.now();
    await feed(args[0]!, (b) => sp.push(b));
    out = { ms: performance.now() - t, lines };
  } else if (mode === 'cycle') {
    const { e, flows } = engine();
    e.beginDump(1);
    await feed(args[0]!, (b) => e.dumpChunk(b));
    e.endDump();
    const t = performance.now();
    e.beginDump(2);
    await feed(args[1]!, (b) => e.dumpChunk(b));
    e.endDump();
    out = { ms: performance.now() - t, tracked: e.tracker.tracked, flows: flows() };
  } else if (mode === 'kernel') {
    const { e, flows } = engine();
    const k = new KernelConntrack({ bin: 'conntrack', netns: args[0]!, eventBufferBytes: 1 << 20, logger: createLogger('silent') });
    e.beginDump(Date.now());
    await k.dump((b) => e.dumpChunk(b));
    e.endDump();
    const t = performance.now();
    e.beginDump(Date.now());
    await k.dump((b) => e.dumpChunk(b));
    e.endDump();
    out = { ms: performance.now() - t, tracked: e.tracker.tracked, flows: flows() };
  }
  out.rss_mb = peakRssMb();
  if (process.env.TOLLGATE_BENCH_AGENT_DEBUG) process.stderr.write(JSON.stringify(process.memoryUsage()) + '\n');
  console.log(JSON.stringify(out));
}

async function run(mode: string, args: string[]): Promise<Record<string, number>> {
  const c = spawn(process.execPath, [SELF, 'child', mode, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let s = '';
  c.stdout.on('data', (d: Buffer) => (s += d.toString()));
  const [code] = (await once(c, 'close')) as [number];
  if (code !== 0) throw new Error(`bench child ${mode} exited ${code}`);
  return JSON.parse(s.trim()) as Record<string, number>;
}

export async function writeDump(path: string, n: number, grown: (i: number) => number): Promise<void> {
  const w = createWriteStream(path);
  let text = '';
  for (let i = 0; i < n; i++) {
    const g = grown(i);
    const a = `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
    text +=
      formatEntry({
        id: (Math.imul(i + 1, 2654435761) >>> 0) || 1,
        protocol: i % 5 === 0 ? 17 : 6,
        family: 'IPV4',
        original: { src: a, dst: '10.96.0.10', sport: 1024 + (i % 60000), dport: 443 },
        reply: { src: '10.244.3.7', dst: a, sport: 8443, dport: 1024 + (i % 60000) },
        origBytes: 1000 + g,
        origPackets: 10 + (g ? 1 : 0),
        replyBytes: 50_000,
        replyPackets: 40,
        start: 0,
      }) + '\n';
    if (text.length > 1 << 20) {
      if (!w.write(text)) await once(w, 'drain');
      text = '';
    }
  }
  w.end(text);
  await once(w, 'finish');
}

const sh = (cmd: string, args: string[], input?: string) => execFileSync(cmd, args, { encoding: 'utf8', input, maxBuffer: 1 << 20 });

/** A network namespace whose conntrack table holds n UDP entries (notes/conntrack.md). */
async function fillKernelTable(ns: string, n: number): Promise<void> {
  sh('ip', ['netns', 'add', ns]);
  const x = (args: string[], input?: string) => sh('ip', ['netns', 'exec', ns, ...args], input);
  x(['ip', 'link', 'set', 'lo', 'up']);
  x(['sysctl', '-qw', 'net.netfilter.nf_conntrack_acct=1', 'net.netfilter.nf_conntrack_udp_timeout=900']);
  x(['nft', '-f', '-'], 'table inet b {\n chain o {\n  type filter hook output priority 0;\n  ct state new counter accept\n }\n}\n');
  const sender = `
    const dgram = require('node:dgram'); const n = ${n}; const u = dgram.createSocket('udp4'); const msg = Buffer.alloc(64);
    let i = 0; u.bind(0, () => { const next = () => { let k = 0; while (i < n && k++ < 2000) { const a = 1 + (i % 250), b = Math.floor(i / 250) % 250, c = Math.floor(i / 62500); u.send(msg, 9, '127.' + c + '.' + b + '.' + a); i++; } if (i < n) setImmediate(next); else setTimeout(() => u.close(), 500); }; next(); });`;
  x([process.execPath, '-e', sender]);
  const count = Number(x(['conntrack', '-C']).trim());
  log(`agent bench: kernel table in netns ${ns}: ${count} entries`);
  if (count < n * 0.99) throw new Error(`kernel table holds ${count} entries, wanted ${n}`);
}

export async function benchAgent(): Promise<Record<string, number | boolean>> {
  const n = Number(process.env.TOLLGATE_BENCH_AGENT_ENTRIES || 1_000_000);
  const fig: Record<string, number | boolean> = { agent_bench_entries: n };
  const d1 = join(tmpdir(), `tollgate-bench-dump1-${process.pid}.txt`);
  const d2 = join(tmpdir(), `tollgate-bench-dump2-${process.pid}.txt`);
  try {
    await writeDump(d1, n, () => 0);
    await writeDump(d2, n, (i) => (i % 10 === 0 ? 1500 : 0));
    const split = await run('split', [d2]);
    const cycle = await run('cycle', [d1, d2]);
    fig.agent_cycle_ms_1m = Math.round(cycle.ms!);
    fig.agent_split_ms_1m = Math.round(split.ms!);
    fig.agent_rss_mb_1m = Math.round(cycle.rss_mb!);
    fig.agent_cycle_deltas = cycle.flows!;
    fig.agent_cycle_meets_target = cycle.ms! <= 1500 && cycle.rss_mb! <= 150;
    log(`agent synthetic ${n}: cycle ${fig.agent_cycle_ms_1m} ms (split only ${fig.agent_split_ms_1m} ms), ${cycle.flows} deltas, peak RSS ${fig.agent_rss_mb_1m} MB`);
  } finally {
    rmSync(d1, { force: true });
    rmSync(d2, { force: true });
  }
  if (process.getuid?.() !== 0) {
    log('agent bench: not root, no kernel table figures');
    return fig;
  }
  const ns = `tgbench${process.pid}`;
  const maxPath = '/proc/sys/net/netfilter/nf_conntrack_max';
  let oldMax: string | undefined;
  try {
    sh('modprobe', ['nf_conntrack']);
  } catch {
    /* built in, or loaded by nft below */
  }
  try {
    oldMax = sh('cat', [maxPath]).trim();
    if (Number(oldMax) < n * 1.2) sh('sysctl', ['-qw', `net.netfilter.nf_conntrack_max=${Math.ceil(n * 1.2)}`]);
    const t0 = performance.now();
    await fillKernelTable(ns, n);
    log(`agent bench: filled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const t = performance.now();
    sh('sh', ['-c', `ip netns exec ${ns} conntrack -L -o extended,id > /dev/null 2>&1`]);
    fig.conntrack_list_ms_1m = Math.round(performance.now() - t);
    const k = await run('kernel', [ns]);
    fig.agent_kernel_cycle_ms_1m = Math.round(k.ms!);
    fig.agent_kernel_rss_mb_1m = Math.round(k.rss_mb!);
    fig.agent_kernel_tracked = k.tracked!;
    fig.agent_kernel_vs_list = Number((k.ms! / (fig.conntrack_list_ms_1m as number)).toFixed(2));
    fig.agent_kernel_meets_target = k.ms! <= 1.3 * (fig.conntrack_list_ms_1m as number) && k.rss_mb! <= 150;
    log(`agent kernel ${k.tracked}: cycle ${fig.agent_kernel_cycle_ms_1m} ms vs conntrack -L ${fig.conntrack_list_ms_1m} ms (x${fig.agent_kernel_vs_list}), peak RSS ${fig.agent_kernel_rss_mb_1m} MB`);
  } finally {
    try {
      sh('ip', ['netns', 'del', ns]);
    } catch {
      /* not made */
    }
    if (oldMax) sh('sysctl', ['-qw', `net.netfilter.nf_conntrack_max=${oldMax}`]);
  }
  return fig;
}

if (process.argv[2] === 'child') await child(process.argv[3]!, process.argv.slice(4));
else if (process.argv[1] === SELF) console.log(JSON.stringify(await benchAgent()));
