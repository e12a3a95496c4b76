import { hostname } from 'node:os';
import { agentsFromConfig, loadAgentConfig } from '@tollgate/agent';
import { Lifecycle } from '@tollgate/pipeline';
import { UsageError } from '../args.ts';
import { openTransport, serve, untilSignal } from '../runtime.ts';
import type { Command } from './command.ts';

export const agentCommand: Command = {
  name: 'agent',
  options: [{ name: 'output', type: 'string', help: 'kafka (flows.raw.v1) or stdout (one JSON object per line per flow delta); default TOLLGATE_AGENT_OUTPUT' }],
  details:
    'Settings: TOLLGATE_KAFKA_BROKERS (output kafka), TOLLGATE_NODE_NAME, TOLLGATE_AGENT_*, TOLLGATE_CONNTRACK_*, TOLLGATE_POLL_INTERVAL_MS,\n' +
    'TOLLGATE_BATCH_MAX_FLOWS. Reads the kernel conntrack table (needs CAP_NET_ADMIN and the conntrack tool) until SIGINT/SIGTERM,\n' +
    'then takes a last dump and flushes. With TOLLGATE_AGENT_SOURCE=sim it replays the simulated cluster (TOLLGATE_SIM_*) and exits\n' +
    'when done; an empty TOLLGATE_NODE_NAME then replays every simulated node.',
  async run(rt, args) {
    const out = args.options.output;
    if (out !== undefined && out !== 'kafka' && out !== 'stdout') throw new UsageError(`--output must be kafka or stdout, got '${String(out)}'`);
    const cfg = loadAgentConfig(rt.env, { output: out });
    const transport = cfg.output === 'kafka' ? await openTransport(rt, 'agent', true) : undefined;
    const producer = await transport?.producer(`agent-${hostname()}`);
    const agents = agentsFromConfig(cfg, {
      registry: rt.registry,
      logger: rt.logger,
      metrics: rt.metrics,
      topic: rt.topics.raw,
      producer,
      // the simulated cluster (and what it loads) only for a replay: the kernel agent's footprint is every node's
      scenario: cfg.source === 'sim' ? (await import('../sim.ts')).scenarioFromEnv(rt.env) : undefined,
    });
    const cleanup = async () => {
      await producer?.close();
      await transport?.close();
    };
    if (agents.length === 1) return serve(rt, agents[0]!, cleanup);
    const life = new Lifecycle();
    await life.start(agents);
    await Promise.race([Promise.all(agents.map((a) => a.done)), untilSignal(rt.logger)]);
    await life.stop();
    await cleanup();
    rt.logger.info({ flows: agents.reduce((n, a) => n + a.stats().flows, 0) }, 'agent finished');
    return 0;
  },
};
