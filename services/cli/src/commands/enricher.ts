import { loadSettings, settings } from '@tollgate/config';
import { componentLogger } from '@tollgate/log';
import { enricherFromEnv } from '@tollgate/enricher';
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
    const { k8sSource } = loadSettings(settings.enricher, rt.env);
    const scenario = k8sSource === 'sim' ? scenarioFromEnv(rt.env) : undefined;
    const env = scenario ? withScenarioEnv(rt.env, scenario) : rt.env;
    const transport = await openTransport(rt, 'enricher', true);
    let enricher;
    try {
      enricher = enricherFromEnv({
      env,
      transport,
      topics: rt.topics,
      registry: rt.registry,
      logger: componentLogger(rt.logger, 'enricher'),
      sim: scenario?.inventory,
      groupId: groupId(rt, 'enricher'),
      });
    } catch (e) {
      await transport.close();
      throw e;
    }
    return serve(rt, enricher, () => transport.close());
  },
};
