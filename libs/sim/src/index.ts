// The simulated cluster: a seeded, deterministic Kubernetes cluster with its inventory,
// per-node conntrack ticks and the ground truth (see README section "Simulated cluster").
export { createScenario, simInventorySource, SIM_CLUSTER, FIXTURES_DIR, GEOIP_DIR } from './scenario.ts';
export type { Scenario, ScenarioOptions, ExpectedAnomaly, NodeTotals } from './scenario.ts';
export type { TruthRow, TruthClass, TruthPrice, Bytes, Owner } from './truth.ts';
export { billable, ownerOf } from './truth.ts';
export type { SimConnection, SimEndpoint, External, ExternalClass } from './traffic.ts';
export { EXT, MINING_PORT, DIRECT_CIDR, CLIENT_COUNTRIES } from './traffic.ts';
export type { SimNode, SimPod } from './cluster.ts';
export { HOUR, DAY } from './cluster.ts';
