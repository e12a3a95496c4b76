// The kernel's conntrack table through Debian's `conntrack` tool (conntrack-tools 1.4.x):
// - a full dump per poll: `conntrack -L -o extended,id` (both families on 1.4.7), streamed, with its
//   stdout in 64 KiB blocks (`stdbuf -o`, coreutils) where available: stdio writes a pipe 4 KiB at a
//   time, and 56,000 small writes (and reads, and wake-ups) per 1,000,000 entries cost more than the
//   parse;
// - the DESTROY event stream, all the time: `conntrack -E -e DESTROY -o extended,timestamp,id -b N`
//   (final counters; ENOBUFS overruns are reported on its stderr and counted, then a resync).
// Kernel facts the agent relies on (measured, kernel 6.18, conntrack 1.4.7; kernel.test.ts):
// - with net.netfilter.nf_conntrack_events=2 (the kernel default) an entry reports events only if a
//   listener existed when it was created: the baseline dump waits until `conntrack -E` subscribed
//   (its NOTICE line, printed after the event socket is bound), so no entry created after the
//   baseline lacks its DESTROY;
// - conntrack 1.4.7 applies `-b` to its command socket, not to the event socket, which keeps
//   net.core.rmem_default (212,992 bytes: about 160 DESTROY events behind a busy reader): bursts
//   beyond that overrun (ENOBUFS, counted, resynced) whatever TOLLGATE_CONNTRACK_EVENT_BUFFER_BYTES says;
// - events arrive in order: a barrier (an entry of its own created and deleted, see BARRIER) whose
//   DESTROY has been read proves that every event before it has been read (graceful stop).
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

/**
 * The barrier entry: UDP 127.0.0.254 -> 127.0.0.254:9 in conntrack zone 65535 with a mark of its
 * own (a mark the kernel filters on, so deleting it does not dump the whole table); the source port
 * is the barrier's number. No packet ever creates it; the engine recognises and skips its DESTROY.
 */
export const BARRIER = { zone: 65535, addr: '127.0.0.254', dport: 9, mark: 0x746c6762 } as const;

export interface EventHandlers {
  chunk(b: Buffer): void;
  /** The event socket is subscribed: entries created from now on report their DESTROY. */
  subscribed?(): void;
  overrun(): void;
  /** The stream ended (it is restarted after a pause; events in between are lost). */
  ended(code: number | null): void;
}

const ACCT = '/proc/sys/net/netfilter/nf_conntrack_acct';
const EVENTS = '/proc/sys/net/netfilter/nf_conntrack_events';

export class KernelConntrack {
  private readonly o: KernelOptions;
  private events: ChildProcess | undefined;
  /** `stdbuf` is there to make the dump's stdout block-buffered (found by check()). */
  private stdbuf = false;

  constructor(o: KernelOptions) {
    this.o = o;
  }

  private command(args: string[], bin = this.o.bin): [string, string[]] {
    return this.o.netns ? ['ip', ['netns', 'exec', this.o.netns, bin, ...args]] : [bin, args];
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
    const [scmd, sargs] = this.command(['--version'], 'stdbuf');
    const sb = await this.run(scmd, sargs).catch(() => undefined);
    this.stdbuf = sb?.code === 0;
    if (!this.stdbuf) this.o.logger.warn('stdbuf (coreutils) not found: the conntrack dump is read in 4 KiB writes (slower polls)');
  }

  /** net.netfilter.nf_conntrack_acct of the namespace read: 1, 0, or undefined when nf_conntrack is not loaded. */
  readAcct(): Promise<number | undefined> {
    return this.readSysctl(ACCT);
  }

  /** net.netfilter.nf_conntrack_events (0 off, 1 on, 2 only for entries created while a listener exists). */
  readEvents(): Promise<number | undefined> {
    return this.readSysctl(EVENTS);
  }

  private async readSysctl(path: string): Promise<number | undefined> {
    try {
      if (!this.o.netns) return Number((await readFile(path, 'utf8')).trim());
      const r = await this.run('ip', ['netns', 'exec', this.o.netns, 'cat', path]);
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
    const [cmd, args] = this.stdbuf ? this.command(['-o', '65536', this.o.bin, '-L', '-o', 'extended,id'], 'stdbuf') : this.command(['-L', '-o', 'extended,id']);
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
        else if (/^NOTICE: Netlink socket buffer size/.test(l)) h.subscribed?.();
        else if (l.trim() && !/flow events have been shown|buffer-size|losing events|socket buffer size/.test(l)) this.o.logger.warn({ stderr: l.trim() }, 'conntrack -E');
      }
    });
    c.on('error', (err) => this.o.logger.error({ err: err.message }, 'conntrack -E could not start'));
    c.on('close', (code) => {
      if (this.events === c) this.events = undefined;
      h.ended(code);
    });
  }

  /**
   * Creates and deletes the barrier entry number `n` (1..65535): its DESTROY event follows every
   * event of the table before it. Rejects when the tool fails (no barrier: the caller falls back).
   */
  async barrier(n: number): Promise<void> {
    const tuple = ['-p', 'udp', '-s', BARRIER.addr, '-d', BARRIER.addr, '--sport', String(n), '--dport', String(BARRIER.dport), '-w', String(BARRIER.zone), '-m', String(BARRIER.mark)];
    for (const op of [['-I', ...tuple, '-t', '60'], ['-D', ...tuple]]) {
      const [cmd, args] = this.command(op);
      const r = await this.run(cmd, args);
      if (r.code !== 0) throw new Error(`conntrack ${op[0]} (barrier) exited ${r.code}: ${r.err.trim()}`);
    }
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
