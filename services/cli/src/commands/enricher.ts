import { componentLogger } from '@tollgate/log';
import { createEnrichContext, createEnricher, createInventorySource, loadEnricherSettings } from '@tollgate/enricher';
import { groupId, openTransport, serve } from '../runtime.ts';
import { scenarioFromEnv, withScenarioEnv } from '../sim.ts';
import type { Command } from './command.ts';

export const enricherCommand: Command = {
  name: 'enricher',
  options: [],
  details:
    'Settings: TOLLGATE_KAFKA_BROKERS (required), TOLLGATE_K8S_SOURCE (kube | file:<path> | sim), TOLLGATE_GEOIP_*,\n' +
    'TOLLGATE_CLOUD, TOLLGATE_NAT_GATEWAY, TOLLGATE_DIRECT_CIDRS, TOLLGATE_PRIVATE_CIDRS, TOLLGATE_CLOUD_RANGES.\n' +
    'With TOLLGATE_K8S_SOURCE=sim the simulated cluster (TOLLGATE_SIM_*) supplies the inventory and its own defaults\n' +
    'for the range and GeoIP settings. Runs until SIGINT/SIGTERM, then finishes the batch in hand and commits.',
  async run(rt) {
    const logger = componentLogger(rt.logger, 'enricher');
    // Settings and files first (a bad one fails before any connection is made).
    let s = loadEnricherSettings(rt.env);
    const scenario = s.k8sSource === 'sim' ? scenarioFromEnv(rt.env) : undefined;
    if (scenario) s = loadEnricherSettings(withScenarioEnv(rt.env, scenario));
    const context = createEnrichContext(s);
    const inventory = createInventorySource(s.k8sSource, { sim: scenario?.inventory, logger });
    const transport = await openTransport(rt, 'enricher', true);
    const enricher = createEnricher({ transport, topics: rt.topics, registry: rt.registry, logger, context, inventory, groupId: groupId(rt, 'enricher') });
    return serve(rt, enricher, () => transport.close());
  },
};
