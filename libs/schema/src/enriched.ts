// flows.enriched.v1 is dictionary encoded (endpoints listed once per batch, flows refer to them
// by index). These helpers give readers the flat view of a flow, and writers a builder that
// deduplicates endpoints.
import type { Endpoint, EnrichedFlow, EnrichedFlowBatch } from './types.generated.ts';

/** An endpoint with the address it had in one flow. */
export interface EndpointView extends Endpoint {
  ip: string;
  port: number;
}

/** One enriched flow with its endpoints resolved: what a flow record means, in one object. */
export interface EnrichedFlowView extends Omit<EnrichedFlow, 'local' | 'local_ip' | 'local_port' | 'remote' | 'remote_ip' | 'remote_port'> {
  local: EndpointView;
  remote: EndpointView;
  cloud: string;
  /** The remote's cloud service and its region, for class CLOUD_SERVICE; else ''. */
  cloud_service: string;
  cloud_service_region: string;
}

/** The flat view of every flow of a batch. Throws RangeError on an index outside `endpoints`. */
export function viewEnriched(batch: EnrichedFlowBatch): EnrichedFlowView[] {
  const eps = batch.endpoints;
  const at = (i: number): Endpoint => {
    const e = eps[i];
    if (e === undefined) throw new RangeError(`endpoint index ${i} outside the batch's ${eps.length} endpoints`);
    return e;
  };
  return batch.flows.map((f) => {
    const { local, local_ip, local_port, remote, remote_ip, remote_port, ...rest } = f;
    const r = at(remote);
    const cs = f.class === 'CLOUD_SERVICE';
    return {
      ...rest,
      local: { ...at(local), ip: local_ip, port: local_port },
      remote: { ...r, ip: remote_ip, port: remote_port },
      cloud: batch.cloud,
      cloud_service: cs ? r.service : '',
      cloud_service_region: cs ? r.region : '',
    };
  });
}

/** A batch without its endpoints and flows. */
export type EnrichedHeader = Omit<EnrichedFlowBatch, 'endpoints' | 'flows'>;

const ENDPOINT_KEYS = ['kind', 'cluster', 'namespace', 'workload_kind', 'workload', 'pod', 'node', 'zone', 'region', 'country', 'asn', 'as_org', 'service', 'labels'] as const;

/**
 * Builds a batch. `endpoint(key, make)` returns the index of the endpoint known by `key` (any
 * value: the enricher uses its cached per-pod and per-address objects, so no string key is built
 * per flow), calling `make` only the first time.
 */
export class EnrichedBatchBuilder {
  private readonly index = new Map<unknown, number>();
  private readonly endpoints: Endpoint[] = [];
  private readonly flows: EnrichedFlow[] = [];

  endpoint(key: unknown, make: () => Endpoint): number {
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.endpoints.length;
      this.endpoints.push(make());
      this.index.set(key, i);
    }
    return i;
  }

  push(flow: EnrichedFlow): void {
    this.flows.push(flow);
  }

  get size(): number {
    return this.flows.length;
  }

  build(header: EnrichedHeader): EnrichedFlowBatch {
    return { ...header, endpoints: this.endpoints, flows: this.flows };
  }
}

/** The inverse of viewEnriched (tests and tools): a dictionary-encoded batch from flat flows. */
export function fromViews(header: Omit<EnrichedHeader, 'cloud'> & { cloud?: string }, views: readonly EnrichedFlowView[]): EnrichedFlowBatch {
  const b = new EnrichedBatchBuilder();
  const identity = (e: EndpointView): Endpoint => {
    const out = {} as Record<string, unknown>;
    for (const k of ENDPOINT_KEYS) out[k] = e[k];
    return out as unknown as Endpoint;
  };
  for (const v of views) {
    const l = identity(v.local);
    const r = identity(v.remote);
    const { local, remote, cloud: _cloud, cloud_service: _cs, cloud_service_region: _csr, ...rest } = v;
    b.push({
      ...rest,
      local: b.endpoint(JSON.stringify(l), () => l),
      local_ip: local.ip,
      local_port: local.port,
      remote: b.endpoint(JSON.stringify(r), () => r),
      remote_ip: remote.ip,
      remote_port: remote.port,
    });
  }
  return b.build({ cloud: views[0]?.cloud ?? '', ...header });
}
