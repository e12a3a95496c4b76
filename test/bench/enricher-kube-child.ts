// One enricher inventory, as production builds it (kube source + owner index with chargeback
// labels), started against the cluster of the kubeconfig given: prints start-to-ready time and
// the process's memory once synced. A process of its own, so nothing else is in its RSS.
//   node --expose-gc test/bench/enricher-kube-child.ts <kubeconfig>
import { KubeClient } from '@tollgate/kube';
import { createLogger } from '@tollgate/log';
import { kubeSource, OwnerIndex } from '@tollgate/enricher';
import { releaseMemory } from '@tollgate/pipeline';

const client = KubeClient.fromFile(process.argv[2]!);
const index = new OwnerIndex({ podGraceMs: 300_000, chargebackLabels: ['team'] });
const source = kubeSource({ client, logger: createLogger('silent'), syncTimeoutMs: 600_000 });
const t = performance.now();
await source.start((e) => index.apply(e));
const readyMs = Math.round(performance.now() - t);
// As the enricher does once its inventory has synced (component.ts), then once more after a pause.
releaseMemory();
await new Promise((r) => setTimeout(r, 200));
releaseMemory();
const m = process.memoryUsage();
const size = index.size();
await source.stop();
console.log(JSON.stringify({ ready_ms: readyMs, rss_mb: Math.round(m.rss / 1048576), heap_mb: Math.round(m.heapUsed / 1048576), pods: size.pods, owners: size.owners, nodes: size.nodes }));
