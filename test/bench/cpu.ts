// CPU seconds of other processes (the pipeline's three stages and the broker), from Linux's
// /proc/<pid>/stat: user + system time. Elsewhere every reading is undefined and the bench
// prints no CPU figures for the pipeline.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let ticks: number | undefined;
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** The process's CPU time so far (user + system, its own threads), or undefined once it is gone. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: the fields that follow come after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name (state is 3).
    return (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    return undefined;
  }
}

/** The local broker's pid (a JVM running kafka.Kafka), or undefined (a remote broker, or not Linux). */
export function brokerPid(): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').includes('kafka.Kafka')) return Number(e);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/**
 * The last CPU reading of each watched process, taken every `everyMs` (a process that exits keeps
 * its last reading: at most `everyMs` of its CPU is missed).
 */
export class CpuWatch {
  private readonly last = new Map<string, number>();
  private readonly pids = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(everyMs = 20) {
    // (unref: a round that fails does not keep the bench alive through this timer)
    this.timer = setInterval(() => this.sample(), everyMs).unref();
  }

  watch(name: string, pid: number | undefined): void {
    if (pid === undefined) return;
    this.pids.set(name, pid);
    this.sample();
  }

  sample(): void {
    for (const [name, pid] of this.pids) {
      const s = cpuSeconds(pid);
      if (s !== undefined) this.last.set(name, s);
    }
  }

  /** The readings so far, by name. */
  readings(): Record<string, number> {
    this.sample();
    return Object.fromEntries(this.last);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
