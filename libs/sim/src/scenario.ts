// The simulated cluster as one deterministic scenario: inventory events for the enricher,
// hourly conntrack ticks per node for the agents, and the ground truth the end-to-end test
// compares the pipeline's totals with.
import { fileURLToPath } from 'node:url';
import type { ConntrackTick } from '@tollgate/conntrack';
import type { InventoryEvent, InventorySource } from '@tollgate/kube';
import { buildCluster, type Cluster, HOUR, type SimNode, type SimPod } from './cluster.ts';
import { nodeTicks, views } from './ticks.ts';
import { DIRECT_CIDR, EXT, MINING_PORT, planTraffic, type SimConnection, type TrafficPlan } from './traffic.ts';
import { billable, computeTruth, type TruthRow } from './truth.ts';

export interface ScenarioOptions {
  seed: number;
  days: number;
  scale: number;
  /** ms since epoch, hour-aligned: the agents' first dump. */
  start: number;
}

export interface ExpectedAnomaly {
  namespace: string;
  workload_kind: string;
  workload: string;
  rule: 'NEW_COUNTRY' | 'NEW_ASN' | 'MINING_PORT';
  country: string;
  port: number;
  /** The destination (for rules that report it). */
  ip: string;
  asn: number;
  /** When the traffic starts (the anomaly's first window contains it). */
  since: number;
}

export interface NodeTotals {
  /** Entries this node's conntrack table shows over the run (with billable bytes or not). */
  entries: number;
  /** Billable bytes of the node's entries per direction: what its agent must emit in total. */
  origBytes: number;
  replyBytes: number;
}

export interface Scenario {
  readonly cluster: string;
  readonly seed: number;
  readonly days: number;
  readonly scale: number;
  /** First tick (the agents' baseline dump). */
  readonly start: number;
  /** Last tick. */
  readonly end: number;
  /** Node names, in index order. */
  readonly nodes: string[];
  readonly nodeInfo: SimNode[];
  readonly pods: SimPod[];
  /** Sorted by time; objects shaped like the Kubernetes API's. */
  readonly inventory: InventoryEvent[];
  /** Enricher settings for this scenario, as environment variables. */
  readonly enricherEnv: Record<string, string>;
  /** Hourly ticks of one node (by name), lazily generated: days*24+1 ticks, the first is the baseline dump. */
  ticks(node: string): Iterable<ConntrackTick>;
  /** Every connection of the run (persistent, then hour by hour), lazily. */
  connections(): Iterable<SimConnection>;
  /** Billed bytes per workload and class over the whole run (DESIGN.md section 2). */
  truth(): TruthRow[];
  /** Per node: what its agent must emit in total (sum of orig/reply deltas). */
  truthByNode(): Map<string, NodeTotals>;
  readonly expectedAnomalies: ExpectedAnomaly[];
  /** Start of the planted anomaly (the compromised pod's first connection). */
  readonly anomalyStart: number;
}

export const SIM_CLUSTER = 'demo';
export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const GEOIP_DIR = fileURLToPath(new URL('../../../test/fixtures/geoip/', import.meta.url));

export function createScenario(opts: ScenarioOptions): Scenario {
  const { seed, days, scale, start } = opts;
  if (!Number.isInteger(seed)) throw new RangeError(`sim seed must be an integer, got ${seed}`);
  if (!Number.isInteger(days) || days < 1) throw new RangeError(`sim days must be an integer >= 1, got ${days}`);
  if (!Number.isInteger(scale) || scale < 1) throw new RangeError(`sim scale must be an integer >= 1, got ${scale}`);
  if (!Number.isFinite(start) || start % HOUR !== 0) throw new RangeError(`sim start must be hour-aligned ms since epoch, got ${start}`);
  const hours = days * 24;
  const end = start + hours * HOUR;
  const cluster: Cluster = buildCluster({ seed, start, end });
  const plan: TrafficPlan = planTraffic(cluster, { seed, start, hours, scale });
  const nodes = cluster.nodes.map((n) => n.name);

  function* connections(): Generator<SimConnection> {
    yield* plan.persistent;
    for (let k = plan.firstWindow; k < plan.hours; k++) yield* plan.window(k);
  }
  let truth: TruthRow[] | undefined;
  let byNode: Map<string, NodeTotals> | undefined;

  const rec = cluster.workloads.get('shop/recommender')!;
  const anomaly = { namespace: rec.namespace, workload_kind: rec.kind, workload: rec.name, country: EXT.miner.country, port: MINING_PORT, ip: EXT.miner.ip, asn: EXT.miner.asn, since: plan.minerStart };

  return {
    cluster: SIM_CLUSTER,
    seed,
    days,
    scale,
    start,
    end,
    nodes,
    nodeInfo: cluster.nodes,
    pods: cluster.pods,
    inventory: cluster.inventory,
    enricherEnv: {
      TOLLGATE_CLUSTER: SIM_CLUSTER,
      TOLLGATE_DIRECT_CIDRS: DIRECT_CIDR,
      TOLLGATE_CLOUD_RANGES: `aws:${FIXTURES_DIR}aws-ip-ranges.json`,
      TOLLGATE_NAT_GATEWAY: 'true',
      TOLLGATE_GEOIP_COUNTRY_DB: `${GEOIP_DIR}GeoIP2-Country-Test.mmdb`,
      TOLLGATE_GEOIP_ASN_DB: `${GEOIP_DIR}GeoLite2-ASN-Test.mmdb`,
    },
    ticks(node: string): Iterable<ConntrackTick> {
      const idx = nodes.indexOf(node);
      if (idx < 0) throw new RangeError(`no node ${node} in the simulated cluster (have ${nodes.join(', ')})`);
      return { [Symbol.iterator]: () => nodeTicks(plan, seed, start, idx) };
    },
    connections: () => connections(),
    truth: () => (truth ??= computeTruth(connections(), start, end)),
    truthByNode() {
      if (!byNode) {
        byNode = new Map(nodes.map((n) => [n, { entries: 0, origBytes: 0, replyBytes: 0 }]));
        for (const c of connections()) {
          if (c.end <= start) continue;
          const b = billable(c, start, end);
          for (const v of views(c)) {
            const t = byNode.get(nodes[v.node]!)!;
            t.entries++;
            t.origBytes += b.orig;
            t.replyBytes += b.reply;
          }
        }
      }
      return byNode;
    },
    expectedAnomalies: [
      { ...anomaly, rule: 'NEW_COUNTRY' },
      { ...anomaly, rule: 'NEW_ASN' },
      { ...anomaly, rule: 'MINING_PORT' },
    ],
    anomalyStart: plan.minerStart,
  };
}

/** The scenario's inventory as an InventorySource (all events, past and future, at start: the enricher's index is time-aware). */
export function simInventorySource(scenario: Scenario): InventorySource {
  return {
    name: 'sim',
    async start(onEvent) {
      for (const e of scenario.inventory) onEvent(e);
    },
    async stop() {},
  };
}
