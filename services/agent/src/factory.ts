// All of the agent's production wiring, from its settings and dependencies: the source named by
// TOLLGATE_AGENT_SOURCE, the output named by TOLLGATE_AGENT_OUTPUT (or --output), the buffer.
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { ConfigError } from '@tollgate/config';
import type { Logger } from '@tollgate/log';
import type { Registry } from '@tollgate/metrics';
import type { Producer } from '@tollgate/pipeline';
import type { SchemaRegistry } from '@tollgate/schema';
import { formatEntry, type ConntrackTick } from '@tollgate/conntrack';
import { AgentEngine } from './engine.ts';
import { createAgent, type Agent } from './agent.ts';
import { kafkaOutput, streamOutput, type AgentOutput } from './buffer.ts';
import type { AgentConfig } from './config.ts';
import { KernelConntrack } from './kernel.ts';

/**
 * A recorded cluster to replay (TOLLGATE_AGENT_SOURCE=sim): its nodes and each node's ticks. The
 * simulated cluster (libs/sim, wired in by the CLI's sim module) is one; the agent does not
 * depend on it.
 */
export interface ReplayCluster {
  readonly cluster: string;
  readonly nodes: readonly string[];
  ticks(node: string): Iterable<ConntrackTick>;
}

export interface AgentRuntime {
  registry: SchemaRegistry;
  logger: Logger;
  metrics?: Registry;
  /** The raw topic (flows.raw.v1 with the prefix); needed with output kafka. */
  topic?: string;
  /** Needed with output kafka. */
  producer?: Producer;
  /** Needed with output stdout (default process.stdout). */
  stdout?: Writable;
  /** Needed with source sim. */
  scenario?: ReplayCluster;
  /** An output to use instead of the configured one (tests, embedding). */
  output?: AgentOutput;
}

function outputOf(cfg: AgentConfig, rt: AgentRuntime, node: string): AgentOutput {
  if (rt.output) return rt.output;
  if (cfg.output === 'stdout') return streamOutput(rt.stdout ?? process.stdout);
  if (!rt.producer || !rt.topic) throw new Error('agent: output kafka needs a producer and a topic');
  return kafkaOutput(rt.producer, rt.topic, node);
}

const statePath = (cfg: AgentConfig, node: string) => (cfg.stateDir ? join(cfg.stateDir, `agent-${node.replace(/[^A-Za-z0-9._-]/g, '_')}.json`) : undefined);

/** The agents a configuration asks for: one on the kernel source, or one per simulated node replayed. */
export function agentsFromConfig(cfg: AgentConfig, rt: AgentRuntime): Agent[] {
  const common = { cluster: cfg.cluster, batchMaxFlows: cfg.batchMaxFlows, registry: rt.registry, bufferMaxBytes: cfg.bufferMaxBytes, flushTimeoutMs: cfg.flushTimeoutMs, metrics: rt.metrics };
  if (cfg.source === 'conntrack') {
    const logger = rt.logger.child({ component: 'agent', node: cfg.nodeName });
    const kernel = new KernelConntrack({ bin: cfg.conntrackBin, netns: cfg.conntrackNetns, eventBufferBytes: cfg.eventBufferBytes, logger });
    return [
      createAgent({
        ...common,
        node: cfg.nodeName,
        logger,
        output: outputOf(cfg, rt, cfg.nodeName),
        statePath: statePath(cfg, cfg.nodeName),
        source: { kind: 'kernel', kernel, pollIntervalMs: cfg.pollIntervalMs, enableAcct: cfg.enableAcct },
      }),
    ];
  }
  const scenario = rt.scenario;
  if (!scenario) throw new ConfigError('TOLLGATE_AGENT_SOURCE', "'sim' needs the simulated cluster");
  const nodes = cfg.nodeName ? [cfg.nodeName] : scenario.nodes;
  for (const n of nodes) {
    if (!scenario.nodes.includes(n)) throw new ConfigError('TOLLGATE_NODE_NAME', `'${n}' is not a node of the simulated cluster (${scenario.nodes.join(', ')})`);
  }
  return nodes.map((node) =>
    createAgent({
      ...common,
      cluster: scenario.cluster,
      node,
      logger: rt.logger.child({ component: 'agent', node }),
      output: outputOf(cfg, rt, node),
      statePath: statePath(cfg, node),
      source: { kind: 'replay', ticks: scenario.ticks(node) },
      // one process replays every node: the metrics registry would mix them
      metrics: nodes.length === 1 ? rt.metrics : undefined,
    }),
  );
}

/**
 * A replay turned into Kafka message values synchronously, through the same engine (the
 * benchmark's agent stage, without the ack buffer's asynchronous delivery).
 */
export function replayMessages(ticks: Iterable<ConntrackTick>, o: { cluster: string; node: string; agentId: string; batchMaxFlows: number; registry: SchemaRegistry }): { messages: Buffer[]; flows: number } {
  const messages: Buffer[] = [];
  let flows = 0;
  const engine = new AgentEngine({ ...o, encoding: 'avro', buffer: { soft: false, hard: false, push: (i) => (messages.push(i.payload as Buffer), (flows += i.flows)) } });
  for (const t of ticks) {
    if (t.destroyed.length) engine.eventChunk(Buffer.from(t.destroyed.map((d) => formatEntry(d.entry, { event: 'DESTROY', time: d.time }) + '\n').join(''), 'latin1'));
    engine.beginDump(t.time);
    engine.dumpChunk(Buffer.from(t.dump.map((e) => formatEntry(e, { now: t.time }) + '\n').join(''), 'latin1'));
    engine.endDump();
  }
  engine.flushEvents();
  return { messages, flows };
}
