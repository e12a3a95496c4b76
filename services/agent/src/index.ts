// The node agent (DaemonSet): kernel conntrack -> byte deltas -> flows.raw.v1 (or stdout).
export { createAgent } from './agent.ts';
export type { Agent, AgentDeps, AgentSource, AgentStats } from './agent.ts';
export { agentsFromConfig, replayMessages } from './factory.ts';
export type { AgentRuntime, ReplayCluster } from './factory.ts';
export { loadAgentConfig } from './config.ts';
export type { AgentConfig } from './config.ts';
export { AckBuffer, kafkaOutput, streamOutput } from './buffer.ts';
export type { AgentOutput, OutItem } from './buffer.ts';
export { AgentEngine } from './engine.ts';
export { KernelConntrack } from './kernel.ts';
export { agentMetrics } from './metrics.ts';
