// The node agent (DaemonSet): conntrack byte deltas -> flows.raw.v1.
export { createAgent } from './agent.ts';
export type { Agent, AgentDeps, AgentStats } from './agent.ts';
export { DeltaTracker, entryKey } from './delta.ts';
export type { DeltaStats } from './delta.ts';
export { toBatches } from './batch.ts';
export type { BatchHeader } from './batch.ts';
export { simSource } from './source.ts';
export type { ConntrackSource, SimSourceOptions } from './source.ts';
export { parseConntrackLine } from './conntrack-text.ts';
export type { ParsedLine } from './conntrack-text.ts';
