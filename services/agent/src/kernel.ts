// The kernel's conntrack table through Debian's `conntrack` tool (conntrack-tools 1.4.x):
// - a full dump per poll: `conntrack -L -o extended,id` (both families on 1.4.7), streamed;
// - the DESTROY event stream, all the time: `conntrack -E -e DESTROY -o extended,timestamp,id -b N`
//   (final counters; ENOBUFS overruns are reported on its stderr and counted, then a resync).
// Chosen by measurement (README "Agent"): reading netlink directly from Node would need a native
// addon; the tool's dump, parsed while it streams, costs little more than the tool alone.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import type { Logger } from '@tollgate/log';

export interface KernelOptions {
  bin: string;
  /** `ip netns` name whose table to read; empty: the agent's own namespace. */
  netns: string;
  eventBufferBytes: number;
  logger: Logger;
}

export interface EventHandlers {
  chunk(b: Buffer): void;
  overrun(): void;
  /** The stream ended (it is restarted after a pause; events in between are lost). */
  ended(code: number | null): void;
}

const ACCT = '/proc/sys/net/netfilter/nf_conntrack_acct';

export class KernelConntrack {
  private readonly o: KernelOptions;
  private events: ChildProcess | undefined;

  constructor(o: KernelOptions) {
    this.o = o;
  }

  private command(args: string[]): [string, string[]] {
    return this.o.netns ? ['ip', ['netns', 'exec', this.o.netns, this.o.bin, ...args]] : [this.o.bin, args];
  }

  private run(cmd: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
    return new Promise((resolve, reject) => {
      const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr.on('data', (d: Buffer) => (err += d.toString()));
      c.on('error', reject);
      c.on('close', (code) => resolve({ code, out, err }));
    });
  }

  /** Fails with a clear message when the tool is missing or cannot read the table. */
  async check(): Promise<void> {
    const [cmd, args] = this.command(['-C']);
    const r = await this.run(cmd, args).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new Error(`the conntrack tool '${this.o.bin}' was not found (TOLLGATE_CONNTRACK_BIN): install the Debian package conntrack`);
      throw err;
    });
    if (r.code !== 0) throw new Error(`'${[cmd, ...args].join(' ')}' failed (${r.code}): ${r.err.trim() || r.out.trim()} (the agent needs CAP_NET_ADMIN and nf_conntrack)`);
  }

  /** net.netfilter.nf_conntrack_acct of the namespace read: 1, 0, or undefined when nf_conntrack is not loaded. */
  async readAcct(): Promise<number | undefined> {
    try {
      if (!this.o.netns) return Number((await readFile(ACCT, 'utf8')).trim());
      const r = await this.run('ip', ['netns', 'exec', this.o.netns, 'cat', ACCT]);
      return r.code === 0 ? Number(r.out.trim()) : undefined;
    } catch {
      return undefined;
    }
  }

  async enableAcct(): Promise<void> {
    if (!this.o.netns) {
      await writeFile(ACCT, '1\n');
      return;
    }
    const r = await this.run('ip', ['netns', 'exec', this.o.netns, 'sysctl', '-qw', 'net.netfilter.nf_conntrack_acct=1']);
    if (r.code !== 0) throw new Error(r.err.trim() || `sysctl exited ${r.code}`);
  }

  /** One full dump, streamed to `chunk`. Resolves when it completed; rejects when the tool failed. */
  dump(chunk: (b: Buffer) => void): Promise<void> {
    const [cmd, args] = this.command(['-L', '-o', 'extended,id']);
    return new Promise((resolve, reject) => {
      const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      c.stdout.on('data', chunk);
      c.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
      c.on('error', reject);
      c.on('close', (code, signal) => {
        if (code === 0) resolve();
        else reject(new Error(`conntrack -L exited ${code ?? signal}: ${err.trim()}`));
      });
    });
  }

  /** Starts the DESTROY event stream. */
  startEvents(h: EventHandlers): void {
    const [cmd, args] = this.command(['-E', '-e', 'DESTROY', '-o', 'extended,timestamp,id', '-b', String(this.o.eventBufferBytes)]);
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.events = c;
    let errLine = '';
    c.stdout.on('data', h.chunk);
    c.stderr.on('data', (d: Buffer) => {
      errLine += d.toString();
      const lines = errLine.split('\n');
      errLine = lines.pop() ?? '';
      for (const l of lines) {
        if (/ENOBUFS/.test(l)) h.overrun();
        else if (l.trim() && !/flow events have been shown|buffer-size|losing events|socket buffer size/.test(l)) this.o.logger.warn({ stderr: l.trim() }, 'conntrack -E');
      }
    });
    c.on('error', (err) => this.o.logger.error({ err: err.message }, 'conntrack -E could not start'));
    c.on('close', (code) => {
      if (this.events === c) this.events = undefined;
      h.ended(code);
    });
  }

  /** Stops the event stream; resolves when it exited. */
  stopEvents(): Promise<void> {
    const c = this.events;
    this.events = undefined;
    if (!c || c.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      c.once('close', () => resolve());
      c.kill('SIGTERM');
    });
  }
}
