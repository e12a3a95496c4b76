// Expected costs of the simulated cluster, from its ground truth (bytes per workload and class,
// computed from the simulated connections) and the seed prices of DESIGN.md section 5 (AWS),
// written here independently of the migrations and views under test. One definition for the
// end-to-end test and the chaos run.
import type { Scenario } from '@tollgate/sim';

const GiB = 1024 ** 3;

// USD per GiB, by class and direction. `direct` is the peered VPC in us-west-2 seen from the
// us-east-1 cluster: priced as cross-region traffic (DESIGN.md section 5: classes that name a
// place are priced by where that place is). `cloud_service` is S3 in the cluster's own region:
// no transfer charge. Same zone and private: free.
const PRICE: Record<string, { egress: number; ingress: number }> = {
  cross_zone: { egress: 0.01, ingress: 0.01 },
  cross_region: { egress: 0.02, ingress: 0 },
  direct: { egress: 0.02, ingress: 0 },
  internet: { egress: 0.09, ingress: 0 },
};
/** NAT gateway processing, both directions, on every byte through it: internet and cloud services. */
const NAT = 0.045;
const THROUGH_NAT = new Set(['internet', 'cloud_service']);

/** Expected total USD per workload (`namespace/kind/name`). */
export function expectedCosts(scenario: Pick<Scenario, 'truth'>): Map<string, number> {
  const expected = new Map<string, number>();
  for (const r of scenario.truth()) {
    const w = `${r.namespace}/${r.workload_kind}/${r.workload}`;
    const p = PRICE[r.class] ?? { egress: 0, ingress: 0 };
    let usd = (r.egress_bytes * p.egress + r.ingress_bytes * p.ingress) / GiB;
    if (THROUGH_NAT.has(r.class)) usd += ((r.egress_bytes + r.ingress_bytes) * NAT) / GiB;
    expected.set(w, (expected.get(w) ?? 0) + usd);
  }
  return expected;
}
