// `tollgate <command>`: one binary for every service, the demo and the report.
import { ConfigError, type Env } from '@tollgate/config';
import { parseArgs, usage, UsageError, type OptionSpec } from './args.ts';
import { createRuntime } from './runtime.ts';
import type { Command } from './commands/command.ts';

/**
 * Commands load on demand: the agent on a node should not load ClickHouse's engine, nor the
 * sink the GeoIP databases.
 */
const loaders: Record<string, { summary: string; load: () => Promise<Command> }> = {
  demo: { summary: 'The whole pipeline on one machine (simulated cluster, embedded ClickHouse), then the report.', load: async () => (await import('./commands/demo.ts')).demoCommand },
  report: { summary: 'Cost per workload and anomalous destinations, from ClickHouse.', load: async () => (await import('./commands/report.ts')).reportCommand },
  agent: { summary: 'Node agent: conntrack byte deltas -> flows.raw.v1.', load: async () => (await import('./commands/agent.ts')).agentCommand },
  enricher: { summary: 'flows.raw.v1 -> owners, zones, GeoIP, traffic class -> flows.enriched.v1.', load: async () => (await import('./commands/enricher.ts')).enricherCommand },
  sink: { summary: 'flows.enriched.v1 -> ClickHouse, offsets committed after the insert.', load: async () => (await import('./commands/sink.ts')).sinkCommand },
  alerts: { summary: 'New anomalies and budget overruns -> egress.anomalies.v1, each exactly once.', load: async () => (await import('./commands/alerts.ts')).alertsCommand },
  migrate: { summary: 'Apply the ClickHouse migrations (safe to repeat).', load: async () => (await import('./commands/migrate.ts')).migrateCommand },
};

export const commandNames = Object.keys(loaders);

export async function loadCommand(name: string): Promise<Command | undefined> {
  return Object.hasOwn(loaders, name) ? loaders[name]!.load() : undefined;
}

const helpOption: OptionSpec = { name: 'help', type: 'boolean', help: 'Show this help.' };

function topUsage(): string {
  const rows = Object.entries(loaders).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return (
    'Usage: tollgate <command> [options]\n\n' +
    'What your Kubernetes network traffic costs, per workload, and which pods talk to places they never should.\n\n' +
    `Commands:\n${rows.join('\n')}\n\n` +
    'Run `tollgate <command> --help` for a command\'s options. Settings come from TOLLGATE_* environment variables (see README).\n'
  );
}

export async function main(argv: string[], env: Env, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    out.write(topUsage());
    return name ? 0 : 2;
  }
  const cmd = await loadCommand(name);
  if (!cmd) {
    err.write(`tollgate: unknown command '${name}'\n\n${topUsage()}`);
    return 2;
  }
  const specs = [...cmd.options, helpOption];
  try {
    const args = parseArgs(rest, specs);
    if (args.options.help) {
      out.write(usage(cmd.name, loaders[name]!.summary, specs, cmd.details));
      return 0;
    }
    const rt = createRuntime(env, { logLevel: cmd.name === 'demo' || cmd.name === 'report' || cmd.name === 'migrate' ? quietLevel(env) : undefined });
    return await cmd.run(rt, args);
  } catch (e) {
    if (e instanceof ConfigError) {
      err.write(`tollgate ${cmd.name}: configuration error: ${e.message}\n`);
      return 2;
    }
    if (e instanceof UsageError) {
      err.write(`tollgate ${cmd.name}: ${e.message}\n\n${usage(cmd.name, loaders[name]!.summary, specs, cmd.details)}`);
      return 2;
    }
    const verbose = env.TOLLGATE_LOG_LEVEL === 'debug' || env.TOLLGATE_LOG_LEVEL === 'trace';
    err.write(`tollgate ${cmd.name}: ${e instanceof Error ? (verbose ? (e.stack ?? e.message) : e.message) : String(e)}\n`);
    return 1;
  }
}

/** Interactive commands log only warnings unless the user asked for more. */
function quietLevel(env: Env): string {
  return env.TOLLGATE_LOG_LEVEL ? env.TOLLGATE_LOG_LEVEL : 'warn';
}
