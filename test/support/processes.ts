// `tollgate` stages as child processes, for the end-to-end test and the chaos run.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/tollgate.mjs', import.meta.url));

export interface Proc {
  name: string;
  command: string;
  child: ChildProcess;
  /** The exit code; null when a signal ended it. */
  exited: Promise<number | null>;
  /** The last few hundred chunks of its stdout and stderr (for a failure's message). */
  log: string[];
}

/**
 * Runs `tollgate <command>` on this Node with `env`. With `group`, the stage is the leader of a
 * process group of its own, so `signalGroup` reaches it and anything it started (the chaos run).
 */
export function startTollgate(name: string, command: string, env: NodeJS.ProcessEnv, opts: { group?: boolean } = {}): Proc {
  const child = spawn(process.execPath, [BIN, command], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.group === true });
  const log: string[] = [];
  const keep = (d: Buffer) => {
    log.push(d.toString());
    if (log.length > 300) log.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ? null : code)));
  return { name, command, child, exited, log };
}

/** Whether the process has not exited yet (neither an exit code nor a signal recorded). */
export function alive(p: Proc): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

/** Sends `signal` to the process group of a stage started with `group` (to the process alone otherwise). */
export function signalGroup(p: Proc, signal: NodeJS.Signals): void {
  if (!alive(p) || p.child.pid === undefined) return;
  try {
    process.kill(-p.child.pid, signal);
  } catch {
    p.child.kill(signal);
  }
}

/** Polls `cond` (an error counts as not yet) until it holds; on timeout the error carries the processes' logs. */
export async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs: number, procs: () => Proc[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond().catch(() => false)) return;
    if (Date.now() > deadline) {
      const logs = procs()
        .map((p) => `--- ${p.name}\n${p.log.join('').slice(-4000)}`)
        .join('\n');
      throw new Error(`timed out waiting for ${what}\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A port nobody listens on now (the kernel's pick). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
