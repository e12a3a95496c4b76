import { componentLogger } from '@tollgate/log';
import { createEnricherFromSettings, loadEnricherSettings } from '@tollgate/enricher';
import { groupId, openTransport, serve } from '../runtime.ts';
import { scenarioFromEnv, withScenarioEnv } from '../sim.ts';
import type { Command } from './command.ts';

export const enricherCommand: Command = {
  name: 'enricher',
  options: [],
  details:
    'Settings: TOLLGATE_KAFKA_BROKERS (required), TOLLGATE_K8S_SOURCE (kube | file:<path> | sim), TOLLGATE_GEOIP_*,\n' +
    'TOLLGATE_CLOUD, TOLLGATE_NAT_GATEWAY(_EXEMPT), TOLLGATE_DIRECT_CIDRS, TOLLGATE_PRIVATE_CIDRS, TOLLGATE_CLOUD_RANGES,\n' +
    'TOLLGATE_CHARGEBACK_LABELS, TOLLGATE_K8S_SYNC_TIMEOUT_MS.\n' +
    'With TOLLGATE_K8S_SOURCE=sim the simulated cluster (TOLLGATE_SIM_*) supplies the inventory and its own defaults\n' +
    'for the range and GeoIP settings. Runs until SIGINT/SIGTERM, then finishes the batch in hand and commits.',
  async run(rt) {
    const logger = componentLogger(rt.logger, 'enricher');
    // Settings and files first (a bad one fails before any connection is made).
    let s = loadEnricherSettings(rt.env);
    const scenario = s.k8sSource === 'sim' ? scenarioFromEnv(rt.env) : undefined;
    if (scenario) s = loadEnricherSettings(withScenarioEnv(rt.env, scenario));
    const { enricher, transport } = await createEnricherFromSettings(s, { openTransport: () => openTransport(rt, 'enricher', true), topics: rt.topics, registry: rt.registry, logger, metrics: rt.metrics, sim: scenario?.inventory, groupId: groupId(rt, 'enricher') });
    return serve(rt, enricher, () => transport.close());
  },
};
