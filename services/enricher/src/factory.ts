// Builds the enricher from settings: the classifier (direct, cloud, private ranges, GeoIP),
// the owner index and the inventory source named by TOLLGATE_K8S_SOURCE.
import { ConfigError, loadSettings, settings, type Env } from '@tollgate/config';
import type { InventoryEvent, InventorySource } from '@tollgate/kube';
import type { Logger } from '@tollgate/log';
import type { TopicNames, Transport } from '@tollgate/pipeline';
import type { SchemaRegistry } from '@tollgate/schema';
import { Classifier, parseDirectCidrs, parsePrivateCidrs } from './classifier.ts';
import { createEnricher, type Enricher } from './component.ts';
import type { EnrichContext } from './enrich.ts';
import { openGeoIp } from './geoip.ts';
import { eventsSource, fileSource } from './inventory.ts';
import { kubeSource } from './kube-source.ts';
import { OwnerIndex } from './owner-index.ts';
import { loadCloudRanges } from './ranges.ts';

export type EnricherSettings = ReturnType<typeof loadEnricherSettings>;

export function loadEnricherSettings(env: Env) {
  return { ...loadSettings(settings.common, env), ...loadSettings(settings.enricher, env), ...loadSettings(settings.geoip, env) };
}

/** Classifier + index + flags from settings. Reads the range and GeoIP files (ConfigError naming the setting if one is bad). */
export function createEnrichContext(s: EnricherSettings): EnrichContext {
  const classifier = new Classifier({
    direct: parseDirectCidrs(s.directCidrs),
    private: parsePrivateCidrs(s.privateCidrs),
    cloud: loadCloudRanges(s.cloudRanges),
    geoip: openGeoIp({ countryDb: s.countryDb, asnDb: s.asnDb }),
  });
  return { index: new OwnerIndex({ podGraceMs: s.podGraceMs }), classifier, cloud: s.cloud, natGateway: s.natGateway };
}

/** The simulated cluster's inventory, as the CLI wires it for TOLLGATE_K8S_SOURCE=sim. */
export type SimInventory = readonly InventoryEvent[] | InventorySource;

/** The source TOLLGATE_K8S_SOURCE names: `kube`, `file:<path>` or `sim` (needs `sim`). */
export function createInventorySource(spec: string, opts: { sim?: SimInventory; logger?: Logger } = {}): InventorySource {
  if (spec === 'kube') return kubeSource({ logger: opts.logger });
  if (spec.startsWith('file:') && spec.length > 5) return fileSource(spec.slice(5));
  if (spec === 'sim') {
    if (!opts.sim) throw new ConfigError('TOLLGATE_K8S_SOURCE', "'sim' needs the simulated cluster (tollgate demo / the sim agent)");
    return Array.isArray(opts.sim) ? eventsSource(opts.sim as readonly InventoryEvent[], 'sim') : (opts.sim as InventorySource);
  }
  throw new ConfigError('TOLLGATE_K8S_SOURCE', `'${spec}' is not kube, file:<path> or sim`);
}

/** Everything from the environment: settings, context, inventory source, component. */
export function enricherFromEnv(deps: {
  env: Env;
  transport: Transport;
  topics: TopicNames;
  registry: SchemaRegistry;
  logger: Logger;
  sim?: SimInventory;
  groupId?: string;
}): Enricher {
  const s = loadEnricherSettings(deps.env);
  const context = createEnrichContext(s);
  const inventory = createInventorySource(s.k8sSource, { sim: deps.sim, logger: deps.logger });
  return createEnricher({ transport: deps.transport, topics: deps.topics, registry: deps.registry, logger: deps.logger, context, inventory, groupId: deps.groupId });
}
