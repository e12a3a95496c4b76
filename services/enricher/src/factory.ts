// Builds the enricher from settings and dependencies: the classifier (direct, cloud, private
// ranges, GeoIP), the owner index, the inventory source named by TOLLGATE_K8S_SOURCE, the
// component and its metrics. Every file and the Kubernetes configuration are read here, before
// any connection, so a bad setting fails first with a ConfigError naming it.
import { ConfigError, type Env } from '@tollgate/config';
import { KubeClient, type InventoryEvent, type InventorySource } from '@tollgate/kube';
import type { Logger } from '@tollgate/log';
import type { Registry } from '@tollgate/metrics';
import type { TopicNames, Transport } from '@tollgate/pipeline';
import { errorMessage } from '@tollgate/pipeline';
import type { SchemaRegistry } from '@tollgate/schema';
import { Classifier, parseDirectCidrs, parsePrivateCidrs } from './classifier.ts';
import { createEnricher, type Enricher } from './component.ts';
import { loadEnricherSettings, type EnricherSettings } from './config.ts';
import type { EnrichContext } from './enrich.ts';
import { openGeoIp } from './geoip.ts';
import { eventsSource, fileSource } from './inventory.ts';
import { kubeSource, type KubeSource } from './kube-source.ts';
import { bindEnricherMetrics } from './metrics.ts';
import { OwnerIndex } from './owner-index.ts';
import { loadCloudRanges } from './ranges.ts';

export { loadEnricherSettings, type EnricherSettings };

/** Classifier + index + flags from settings. Reads the range and GeoIP files (ConfigError naming the setting if one is bad). */
export function createEnrichContext(s: EnricherSettings): EnrichContext {
  const classifier = new Classifier({
    direct: parseDirectCidrs(s.directCidrs),
    private: parsePrivateCidrs(s.privateCidrs),
    cloud: loadCloudRanges(s.cloudRanges),
    geoip: openGeoIp({ countryDb: s.countryDb, asnDb: s.asnDb }),
  });
  return {
    index: new OwnerIndex({ podGraceMs: s.podGraceMs, chargebackLabels: s.chargebackLabels }),
    classifier,
    cloud: s.cloud,
    natGateway: s.natGateway,
    natExempt: new Set(s.natExempt.map((x) => x.toUpperCase())),
  };
}

/** The simulated cluster's inventory, as the CLI wires it for TOLLGATE_K8S_SOURCE=sim. */
export type SimInventory = readonly InventoryEvent[] | InventorySource;

export interface InventoryOptions {
  sim?: SimInventory;
  logger?: Logger;
  /** For `kube`: the client (default: KUBECONFIG, else the in-cluster service account, else ~/.kube/config). */
  kubeClient?: KubeClient;
  kubeconfig?: string;
  syncTimeoutMs?: number;
}

/** The source TOLLGATE_K8S_SOURCE names: `kube`, `file:<path>` or `sim` (needs `sim`). */
export function createInventorySource(spec: string, opts: InventoryOptions = {}): InventorySource {
  if (spec === 'kube') {
    let client = opts.kubeClient;
    if (!client) {
      try {
        client = KubeClient.fromDefault(opts.kubeconfig);
      } catch (err) {
        throw new ConfigError(opts.kubeconfig ? 'KUBECONFIG' : 'TOLLGATE_K8S_SOURCE', `'kube' needs a cluster: no in-cluster service account and no usable kubeconfig (${errorMessage(err)})`);
      }
    }
    return kubeSource({ client, logger: opts.logger, syncTimeoutMs: opts.syncTimeoutMs });
  }
  if (spec.startsWith('file:') && spec.length > 5) return fileSource(spec.slice(5));
  if (spec === 'sim') {
    if (!opts.sim) throw new ConfigError('TOLLGATE_K8S_SOURCE', "'sim' needs the simulated cluster (tollgate demo / the sim agent)");
    return Array.isArray(opts.sim) ? eventsSource(opts.sim as readonly InventoryEvent[], 'sim') : (opts.sim as InventorySource);
  }
  throw new ConfigError('TOLLGATE_K8S_SOURCE', `'${spec}' is not kube, file:<path> or sim`);
}

export interface EnricherDependencies {
  topics: TopicNames;
  registry: SchemaRegistry;
  logger: Logger;
  /** The process's metrics registry: the enricher's metrics are bound to it. */
  metrics?: Registry;
  sim?: SimInventory;
  kubeClient?: KubeClient;
  groupId?: string;
}

/**
 * The production enricher from parsed settings: reads every file and the Kubernetes
 * configuration first, then opens the transport (a bad setting fails before any connection).
 */
export async function createEnricherFromSettings(
  s: EnricherSettings,
  deps: EnricherDependencies & { openTransport: () => Promise<Transport> },
): Promise<{ enricher: Enricher; transport: Transport }> {
  const parts = prepare(s, deps);
  const transport = await deps.openTransport();
  return { enricher: assemble(s, parts, { ...deps, transport }), transport };
}

/** Everything from the environment, on a transport already open (the demo's in-process pipeline). */
export function enricherFromEnv(deps: EnricherDependencies & { env: Env; transport: Transport }): Enricher {
  const s = loadEnricherSettings(deps.env);
  return assemble(s, prepare(s, deps), deps);
}

function prepare(s: EnricherSettings, deps: EnricherDependencies): { context: EnrichContext; inventory: InventorySource } {
  const context = createEnrichContext(s);
  const inventory = createInventorySource(s.k8sSource, { sim: deps.sim, logger: deps.logger, kubeClient: deps.kubeClient, kubeconfig: s.kubeconfig, syncTimeoutMs: s.k8sSyncTimeoutMs });
  return { context, inventory };
}

function assemble(s: EnricherSettings, parts: { context: EnrichContext; inventory: InventorySource }, deps: EnricherDependencies & { transport: Transport }): Enricher {
  const { context, inventory } = parts;
  const enricher = createEnricher({ transport: deps.transport, topics: deps.topics, registry: deps.registry, logger: deps.logger, context, inventory, groupId: deps.groupId, transactions: s.transactions });
  if (deps.metrics) {
    const kube = inventory.name === 'kube' ? (inventory as KubeSource) : undefined;
    bindEnricherMetrics(deps.metrics, { enricher, transport: deps.transport, rawTopic: deps.topics.raw, kube });
  }
  return enricher;
}
