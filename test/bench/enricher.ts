// The enricher's benchmark figures (issue 7), each with a baseline measured in the same run:
//
//   enricher_flows_per_s             decode + lookups + classification + encode, one core, no Kafka
//   enricher_codec_only_flows_per_s  decode + encode of the same messages alone (the baseline);
//                                    target: enricher_flows_per_s >= 0.6 of it
//   enricher_rss_mb_20k_pods         RSS of an enricher process whose index holds 20,000 pods,
//                                    15,000 ReplicaSets and 1,000 nodes loaded through a real
//                                    kube-apiserver (target <= 250 MB), against
//   enricher_rss_mb_empty_cluster    the same process on an empty cluster (the baseline)
//   enricher_ready_ms_20k_pods       start to ready (first full list) at that size, against
//   enricher_ready_ms_empty_cluster  the same on the empty cluster
//
// Standalone (the cluster figures only): npx node test/bench/enricher.ts [--keep]
// (--keep leaves the populated apiserver running, so the next run skips the ~10 min of writes)
// The cluster part needs the built kube-apiserver (bash infra/kube/kube.sh build); without it
// the kube figures are reported as skipped (and CI=true makes that an error).
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Codec, EnrichedFlowBatch, RawFlowBatch } from '@tollgate/schema';
import type { EnrichContext } from '@tollgate/enricher';
import { enrichBatch } from '@tollgate/enricher';
import { clusterUnavailable, startTestCluster, type TestCluster } from '@tollgate/kube/testkit';
import type { KubeClient } from '@tollgate/kube';

const log = (s: string) => process.stderr.write(`${s}\n`);

/** In-process throughput of enrichment against the codec alone, alternating 3 rounds each; best of each. */
export function benchEnrichThroughput(o: { rawMessages: Buffer[]; rawCodec: Codec<RawFlowBatch>; enrichedCodec: Codec<EnrichedFlowBatch>; ctx: EnrichContext; flows: number }) {
  const { rawMessages, rawCodec, enrichedCodec, ctx, flows } = o;
  // The codec-only baseline encodes the very batches enrichment produces (same sizes).
  const outputs = rawMessages.map((m, i) => enrichBatch(rawCodec.decode(m), { agent_id: 'bench', seq: i, topic: 'flows.raw.v1', partition: 0, offset: i }, ctx));
  const full = () => {
    const t = performance.now();
    let records = 0;
    for (let i = 0; i < rawMessages.length; i++) {
      const out = enrichBatch(rawCodec.decode(rawMessages[i]!), { agent_id: 'bench', seq: i, topic: 'flows.raw.v1', partition: 0, offset: i }, ctx);
      enrichedCodec.encode(out);
      records += out.flows.length;
    }
    return { s: (performance.now() - t) / 1000, records };
  };
  const codec = () => {
    const t = performance.now();
    for (let i = 0; i < rawMessages.length; i++) {
      rawCodec.decode(rawMessages[i]!);
      enrichedCodec.encode(outputs[i]!);
    }
    return (performance.now() - t) / 1000;
  };
  let bestFull = Infinity;
  let bestCodec = Infinity;
  let records = 0;
  for (let r = 0; r < 3; r++) {
    const f = full();
    bestFull = Math.min(bestFull, f.s);
    records = f.records;
    bestCodec = Math.min(bestCodec, codec());
  }
  const enricher = Math.round(flows / bestFull);
  const codecOnly = Math.round(flows / bestCodec);
  return {
    figures: {
      enricher_flows_per_s: enricher,
      enricher_codec_only_flows_per_s: codecOnly,
      enricher_vs_codec_only: Number((enricher / codecOnly).toFixed(2)),
      enricher_meets_target: enricher / codecOnly >= 0.6,
    },
    records,
    outputs,
  };
}

// ---- a 20k-pod cluster on a real apiserver ----

async function pool<T>(items: T[], width: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const ip = (i: number) => `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

async function populate(admin: KubeClient, sizes: { nodes: number; replicaSets: number; pods: number; namespaces: number }): Promise<void> {
  const post = (path: string, body: unknown) => admin.request<{ metadata: { uid: string } }>('POST', path, body);
  const status = (path: string, body: unknown) => admin.request('PATCH', `${path}/status`, body, 'application/merge-patch+json');
  const nss = Array.from({ length: sizes.namespaces }, (_, i) => `bench-${i}`);
  await pool(nss, 8, async (name) => void (await post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { team: `t${name.length}` } } })));
  await pool(Array.from({ length: sizes.nodes }, (_, i) => i), 16, async (i) => {
    const name = `bench-node-${i}`;
    await post('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'topology.kubernetes.io/zone': `us-east-1${'abc'[i % 3]}`, 'topology.kubernetes.io/region': 'us-east-1', 'kubernetes.io/hostname': name } }, spec: { podCIDR: `10.200.${i % 256}.0/24`, providerID: `aws:///us-east-1a/i-${i}` } });
    await status(`/api/v1/nodes/${name}`, { status: { addresses: [{ type: 'InternalIP', address: `172.20.${i >> 8}.${i & 255}` }, { type: 'Hostname', address: name }] } });
  });
  const rsUids: Array<{ ns: string; name: string; uid: string }> = new Array(sizes.replicaSets);
  const template = { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'registry.example/app:1.0', ports: [{ containerPort: 8080 }] }] } };
  await pool(Array.from({ length: sizes.replicaSets }, (_, i) => i), 24, async (i) => {
    const ns = nss[i % nss.length]!;
    const name = `app-${i}-5d9c`;
    const got = await post(`/apis/apps/v1/namespaces/${ns}/replicasets`, {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name, namespace: ns, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: `app-${i}`, uid: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`, controller: true }] },
      spec: { replicas: 1, selector: { matchLabels: { app: 'x' } }, template },
    });
    rsUids[i] = { ns, name, uid: got.metadata.uid };
  });
  await pool(Array.from({ length: sizes.pods }, (_, i) => i), 24, async (i) => {
    const rs = rsUids[i % sizes.replicaSets]!;
    const name = `${rs.name}-${i}`;
    await post(`/api/v1/namespaces/${rs.ns}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: rs.ns, labels: { app: 'x', team: `team-${i % 40}` }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.name, uid: rs.uid, controller: true }] },
      spec: { nodeName: `bench-node-${i % sizes.nodes}`, ...template.spec },
    });
    await status(`/api/v1/namespaces/${rs.ns}/pods/${name}`, { status: { phase: 'Running', podIP: ip(i), podIPs: [{ ip: ip(i) }] } });
  });
}

const CHILD = fileURLToPath(new URL('./enricher-kube-child.ts', import.meta.url));

function measure(cluster: TestCluster): { rss_mb: number; heap_mb: number; ready_ms: number; pods: number; owners: number; nodes: number } {
  const r = spawnSync(process.execPath, ['--expose-gc', CHILD, cluster.kubeconfig('admin')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`enricher-kube-child exited ${r.status}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** Memory and start-to-ready with 20k pods / 15k ReplicaSets / 1k nodes, and on an empty cluster. */
export async function benchEnricherKube(env: NodeJS.ProcessEnv = process.env, keep = false): Promise<Record<string, number | string | boolean>> {
  const why = clusterUnavailable(env);
  if (why) {
    if (env.CI === 'true') throw new Error(`CI provides a real kube-apiserver, but: ${why}`);
    log(`enricher kube figures skipped: ${why}`);
    return { enricher_kube_skipped: why };
  }
  const cluster = startTestCluster({ env, privateName: 'bench', port: 16563 });
  try {
    const sizes = { nodes: 1_000, replicaSets: 15_000, pods: 20_000, namespaces: 50 };
    // A cluster kept from an earlier run (--keep) is reused; the baseline then runs on a fresh
    // empty one first.
    const have = await cluster.admin.request<{ metadata: { remainingItemCount?: number } ; items: unknown[] }>('GET', '/api/v1/pods?limit=1');
    const populated = (have.metadata.remainingItemCount ?? 0) + have.items.length >= sizes.pods;
    let empty: ReturnType<typeof measure>;
    if (populated) {
      const fresh = startTestCluster({ env, privateName: 'bench-empty', port: 16573 });
      try {
        empty = measure(fresh);
      } finally {
        fresh.stop();
      }
    } else {
      empty = measure(cluster);
      const t = performance.now();
      await populate(cluster.admin, sizes);
      const populateS = (performance.now() - t) / 1000;
      log(`enricher  cluster of ${sizes.pods} pods, ${sizes.replicaSets} ReplicaSets, ${sizes.nodes} nodes written to the apiserver in ${populateS.toFixed(1)} s`);
    }
    const big = measure(cluster);
    if (big.pods < sizes.pods || big.owners < sizes.replicaSets || big.nodes < sizes.nodes) throw new Error(`the index holds ${JSON.stringify(big)}, fewer than written`);
    log(`enricher  RSS ${big.rss_mb} MB with 20k pods (empty cluster: ${empty.rss_mb} MB), ready in ${big.ready_ms} ms (empty: ${empty.ready_ms} ms)`);
    return {
      enricher_rss_mb_20k_pods: big.rss_mb,
      enricher_rss_mb_empty_cluster: empty.rss_mb,
      enricher_heap_mb_20k_pods: big.heap_mb,
      enricher_ready_ms_20k_pods: big.ready_ms,
      enricher_ready_ms_empty_cluster: empty.ready_ms,
      enricher_rss_meets_target: big.rss_mb <= 250,
    };
  } finally {
    if (!keep) cluster.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await benchEnricherKube(process.env, process.argv.includes('--keep'))));
}
