import { hostname } from 'node:os';
import { ConfigError, loadSettings, settings } from '@tollgate/config';
import { componentLogger } from '@tollgate/log';
import { createAgent, simSource, type Agent } from '@tollgate/agent';
import { Lifecycle } from '@tollgate/pipeline';
import type { Producer } from '@tollgate/pipeline';
import type { Scenario } from '@tollgate/sim';
import { openTransport, untilSignal, type Runtime } from '../runtime.ts';
import { scenarioFromEnv } from '../sim.ts';
import type { Command } from './command.ts';

export const agentCommand: Command = {
  name: 'agent',
  options: [],
  details:
    'Settings: TOLLGATE_KAFKA_BROKERS (required), TOLLGATE_NODE_NAME, TOLLGATE_AGENT_SOURCE, TOLLGATE_POLL_INTERVAL_MS,\n' +
    'TOLLGATE_BATCH_MAX_FLOWS. With TOLLGATE_AGENT_SOURCE=sim it replays the simulated cluster (TOLLGATE_SIM_*) and\n' +
    'exits when done; an empty TOLLGATE_NODE_NAME then replays every simulated node.',
  async run(rt) {
    const cfg = loadSettings(settings.agent, rt.env);
    if (cfg.source === 'conntrack') {
      throw new ConfigError(
        'TOLLGATE_AGENT_SOURCE',
        'the kernel conntrack source is not available in this version yet (it is the next agent milestone); use `sim` to replay the simulated cluster',
      );
    }
    const scenario = scenarioFromEnv(rt.env);
    const nodes = cfg.nodeName ? [cfg.nodeName] : scenario.nodes;
    for (const n of nodes) {
      if (!scenario.nodes.includes(n)) throw new ConfigError('TOLLGATE_NODE_NAME', `'${n}' is not a node of the simulated cluster (${scenario.nodes.join(', ')})`);
    }
    const transport = await openTransport(rt, 'agent', true);
    const producer = await transport.producer(`agent-${hostname()}`);
    const agents = simAgents(rt, scenario, nodes, producer, cfg.batchMaxFlows);
    const life = new Lifecycle();
    await life.start(agents);
    const result = await Promise.race([Promise.all(agents.map((a) => a.done)).then(() => 'done'), untilSignal(rt.logger)]);
    await life.stop();
    await producer.close();
    await transport.close();
    const flows = agents.reduce((n, a) => n + a.stats().flows, 0);
    rt.logger.info({ flows, result }, 'agent finished');
    return 0;
  },
};

/** One agent per simulated node, sharing one producer. */
export function simAgents(rt: Runtime, scenario: Scenario, nodes: string[], producer: Producer, batchMaxFlows: number): Agent[] {
  return nodes.map((node) =>
    createAgent({
      source: simSource(scenario, node),
      producer,
      topic: rt.topics.raw,
      cluster: scenario.cluster,
      node,
      batchMaxFlows,
      registry: rt.registry,
      logger: componentLogger(rt.logger, 'agent').child({ node }),
    }),
  );
}
