// Expected costs of the simulated cluster, from its ground truth (bytes per workload and class,
// computed from the simulated connections) and the seed prices of DESIGN.md section 5 (AWS),
// written here independently of the migrations and views under test. One definition for the
// end-to-end test and the chaos run.
import type { Scenario } from '@tollgate/sim';

const GiB = 1024 ** 3;

// USD per GiB, by the class whose price applies (TruthRow.priced_as, computed by the sim from
// where a place is: DESIGN.md section 5) and direction. `direct` is priced by its zone and region
// (the peered VPC in us-west-2 seen from the us-east-1 cluster: cross-region); `cloud_service` in
// the cluster's own region has no transfer charge, in another region it is cross-region (S3
// us-west-2). Same zone and private: free.
const PRICE: Record<string, { egress: number; ingress: number }> = {
  cross_zone: { egress: 0.01, ingress: 0.01 },
  cross_region: { egress: 0.02, ingress: 0 },
  internet: { egress: 0.09, ingress: 0 },
};
const NAT = 0.045;
const THROUGH_NAT = new Set(['internet', 'cloud_service']);

/** Expected total USD per workload (`namespace/kind/name`). */
export function expectedCosts(scenario: Pick<Scenario, 'truth'>): Map<string, number> {
  const expected = new Map<string, number>();
  for (const r of scenario.truth()) {
    const w = `${r.namespace}/${r.workload_kind}/${r.workload}`;
    let usd = 0;
    for (const [price, b] of Object.entries(r.priced_as)) {
      const p = PRICE[price] ?? { egress: 0, ingress: 0 };
      usd += (b.egress_bytes * p.egress + b.ingress_bytes * p.ingress) / GiB;
    }
    // NAT processing goes by what the traffic is (internet, a cloud service), not by its price class.
    if (THROUGH_NAT.has(r.class)) usd += ((r.egress_bytes + r.ingress_bytes) * NAT) / GiB;
    expected.set(w, (expected.get(w) ?? 0) + usd);
  }
  return expected;
}
