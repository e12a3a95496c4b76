// The traffic of the simulated cluster, as connections with a begin, an end and byte rates.
// Everything else (conntrack ticks per node, the ground truth) is derived from this list.
// Persistent connections are built once; short ones are generated per simulated hour from a
// generator seeded by (seed, hour), so any hour can be produced on its own, lazily.
import type { IpFamily } from '@tollgate/schema';
import { type Cluster, type SimNode, type SimPod, type SimWorkload, DAY, HOUR, podAt, wkey } from './cluster.ts';
import { Rng } from './rng.ts';

export type ExternalClass = 'direct' | 'cloud_service' | 'private' | 'internet';

export interface External {
  ip: string;
  family: IpFamily;
  cls: ExternalClass;
  /** ISO country from the GeoIP test database ('' when none). */
  country: string;
  asn: number;
  label: string;
  /** Where a `direct` range or a `cloud_service` is (as the enricher's settings and range fixture say): its price depends on it. */
  region?: string;
  zone?: string;
}

export type SimEndpoint = { t: 'pod'; pod: SimPod } | { t: 'node'; node: SimNode } | { t: 'ext'; ext: External };

export interface SimConnection {
  /** Unique within the scenario; orders connections deterministically. */
  key: number;
  protocol: 6 | 17;
  family: IpFamily;
  init: SimEndpoint;
  initIp: string;
  sport: number;
  resp: SimEndpoint;
  respIp: string;
  /** The responder's real port (after DNAT). */
  dport: number;
  /** What the initiator addressed when it was DNAT'd: a Service ClusterIP, or a NodePort on the responder's node. */
  via?: { ip: string; port: number; nodePort: boolean };
  begin: number;
  /** Counters stop growing here (<= end). */
  activeUntil: number;
  /** The conntrack entry is destroyed here (Infinity: outlives the simulation). */
  end: number;
  origBase: number;
  replyBase: number;
  /** Bytes per second while active. */
  origBps: number;
  replyBps: number;
  /** Node index whose DESTROY event for this entry is lost (event overrun). */
  lostDestroyOn?: number;
  /** The kernel reuses this connection's conntrack id (on every node it shares with it). */
  reuseIdOf?: number;
}

/** Cumulative counters of a connection at time t (t > begin). */
export function counters(c: SimConnection, t: number): { ob: number; op: number; rb: number; rp: number } {
  const e = Math.min(t, c.activeUntil) - c.begin;
  const ob = c.origBase + Math.floor((c.origBps * e) / 1000);
  const rb = c.replyBase + Math.floor((c.replyBps * e) / 1000);
  return { ob, op: packets(ob), rb, rp: packets(rb) };
}

export const packets = (bytes: number): number => Math.ceil(bytes / 1100);

export const nodeOf = (e: SimEndpoint): SimNode | undefined => (e.t === 'pod' ? e.pod.node : e.t === 'node' ? e.node : undefined);

// --- external destinations (IPs from MaxMind's GeoIP2/GeoLite2 test databases) ---------------
export const EXT = {
  payment: { ip: '216.160.83.58', family: 'IPV4', cls: 'internet', country: 'US', asn: 209, label: 'payment API' },
  apiSe: { ip: '89.160.20.115', family: 'IPV4', cls: 'internet', country: 'SE', asn: 29518, label: 'partner API (SE)' },
  apiCn: { ip: '175.16.199.10', family: 'IPV4', cls: 'internet', country: 'CN', asn: 0, label: 'supplier API (CN)' },
  apiJp6: { ip: '2001:218::8', family: 'IPV6', cls: 'internet', country: 'JP', asn: 0, label: 'IPv6 API (JP)' },
  upload: { ip: '2.125.160.217', family: 'IPV4', cls: 'internet', country: 'GB', asn: 0, label: 'report upload (GB)' },
  dr: { ip: '172.31.20.5', family: 'IPV4', cls: 'direct', country: '', asn: 0, label: 'DR replica in the peered VPC (us-west-2)', region: 'us-west-2', zone: 'us-west-2a' },
  // In the fixture's EC2 range 3.80.0.0/12 (us-east-1): another customer's machine, internet (DESIGN.md section 5).
  ec2Partner: { ip: '3.84.12.40', family: 'IPV4', cls: 'internet', country: '', asn: 0, label: 'partner service on EC2 (us-east-1)' },
  // In the fixture's S3 range 52.92.16.0/20 of us-west-2: a named service in another region, priced cross-region.
  s3West: { ip: '52.92.17.200', family: 'IPV4', cls: 'cloud_service', country: '', asn: 0, label: 'S3 us-west-2 (backup bucket)', region: 'us-west-2' },
  controlPlane: { ip: '10.0.200.10', family: 'IPV4', cls: 'private', country: '', asn: 0, label: 'EKS control plane ENI' },
  miner: { ip: '67.43.156.10', family: 'IPV4', cls: 'internet', country: 'BT', asn: 35908, label: 'mining pool (BT)' },
} as const satisfies Record<string, External>;

/** S3 in the cluster's region (the fixture's 52.216.0.0/15). */
export const S3_IPS = ['52.216.8.11', '52.216.142.77', '52.217.40.3', '52.217.201.96'];
/** Internet clients of web/api, by country: [country, asn, first address, last address]. */
const CLIENTS: Array<[string, number, string, number, number]> = [
  ['US', 6167, '149.101.100.', 1, 14],
  ['SE', 29518, '89.160.20.', 129, 254],
  ['GB', 0, '81.2.69.', 145, 158],
];
export const CLIENT_COUNTRIES = CLIENTS.map((c) => c[0]);
export const MINING_PORT = 3333;
/** The peered range configured as a direct CIDR, and where it is. */
export const DIRECT_CIDR = '172.31.0.0/16=us-west-2/us-west-2a';

const ext = (e: External): SimEndpoint => ({ t: 'ext', ext: e });
const podEp = (pod: SimPod): SimEndpoint => ({ t: 'pod', pod });

// Ports that mining rules may list: never used as ephemeral ports, so no false positive comes from a client port.
const AVOID = new Set([3333, 4444, 5555, 6666, 7777, 8888, 9999, 14433, 14444, 45560, 45700]);
function ephemeral(rng: Rng): number {
  let p = rng.int(32768, 60999);
  while (AVOID.has(p)) p++;
  return p;
}

/** Diurnal factor: user-facing load peaks in the (UTC) afternoon. */
const diurnal = (t: number): number => 1 + 0.35 * Math.sin((2 * Math.PI * (((t % DAY) / HOUR) - 8)) / 24);

export interface TrafficPlan {
  persistent: SimConnection[];
  /** Windows [start + k h, start + (k+1) h) for k in [firstWindow, hours). */
  firstWindow: number;
  hours: number;
  window(k: number): readonly SimConnection[];
  /** The hour (tick index) after whose tick the planted event overrun happens. */
  specialTick: number;
  minerStart: number;
}

export interface TrafficOptions {
  seed: number;
  start: number;
  hours: number;
  scale: number;
}

/** Longest short connection: windows this far before the start still have live entries at the first dump. */
const MAX_SHORT = 3 * HOUR;
const PRE_WINDOWS = 4;

export function planTraffic(cluster: Cluster, opts: TrafficOptions): TrafficPlan {
  const { seed, start, hours, scale } = opts;
  const end = start + hours * HOUR;
  const W = (ns: string, name: string): SimWorkload => cluster.workloads.get(wkey(ns, name))!;
  const frontend = W('shop', 'frontend');
  const checkout = W('shop', 'checkout');
  const inventory = W('shop', 'inventory');
  const recommender = W('shop', 'recommender');
  const postgres = W('data', 'postgres');
  const api = W('web', 'api');
  const prometheus = W('monitoring', 'prometheus');
  const nodeExporter = W('monitoring', 'node-exporter');
  const report = W('batch', 'report-nightly');
  const svc = (ns: string, name: string) => cluster.services.get(wkey(ns, name))!;
  const sCheckout = svc('shop', 'checkout');
  const sInventory = svc('shop', 'inventory');
  const sRecommender = svc('shop', 'recommender');
  const sPostgres = svc('data', 'postgres');
  const sApi = svc('web', 'api');
  const sStatsd = svc('monitoring', 'statsd');

  // ---- persistent connections ---------------------------------------------------------------
  const rng = Rng.of(seed, 0x9e);
  const persistent: SimConnection[] = [];
  let pkey = 1;
  const conn = (c: Omit<SimConnection, 'key' | 'activeUntil'> & { activeUntil?: number }): SimConnection => {
    const full: SimConnection = { ...c, key: pkey++, activeUntil: c.activeUntil ?? c.end };
    persistent.push(full);
    return full;
  };
  const only = (w: SimWorkload, slot: number): SimPod => w.slots[slot]![0]!;
  const specialTick = Math.max(2, Math.min(58, hours - 3));
  const tSpecial = start + specialTick * HOUR;

  // Streaming replication: the replica connects to the primary, which streams WAL back (reply).
  const pg0 = only(postgres, 0);
  const pg1 = only(postgres, 1);
  conn({
    protocol: 6, family: 'IPV4', init: podEp(pg1), initIp: pg1.ip, sport: ephemeral(rng), resp: podEp(pg0), respIp: pg0.ip, dport: 5432,
    begin: pg1.created + 40_000, end: Infinity, origBase: 2_400, replyBase: 9_800, origBps: 260, replyBps: 41_000,
  });
  // Prometheus scrapes node-exporter on every node through its hostPort (one keep-alive connection each).
  const prom = only(prometheus, 0);
  nodeExporter.slots.forEach((s) => {
    const ne = s[0]!;
    conn({
      protocol: 6, family: 'IPV4', init: podEp(prom), initIp: prom.ip, sport: ephemeral(rng), resp: podEp(ne), respIp: ne.node.ip, dport: 9100,
      begin: prom.created + 25_000 + ne.node.index * 1_000, end: Infinity, origBase: 520, replyBase: 30_000, origBps: 38, replyBps: 1_700,
    });
  });
  // kubelet -> control plane (the node itself, class private). The zone-a node #3 reconnects at the special tick and its DESTROY is lost.
  for (const n of cluster.nodes) {
    const begin = start - 3 * DAY - n.index * 3_600_000 + rng.int(0, 600_000);
    const base = { protocol: 6 as const, family: 'IPV4' as const, init: { t: 'node' as const, node: n }, initIp: n.ip, resp: ext(EXT.controlPlane), respIp: EXT.controlPlane.ip, dport: 443, origBase: 900, replyBase: 4_200, origBps: 210, replyBps: 640 };
    if (n.index === 3) {
      conn({ ...base, sport: ephemeral(rng), begin, activeUntil: tSpecial, end: tSpecial + 120_000, lostDestroyOn: 3 });
      conn({ ...base, sport: ephemeral(rng), begin: tSpecial + 150_000, end: Infinity });
    } else {
      conn({ ...base, sport: ephemeral(rng), begin, end: Infinity });
    }
  }
  // web/api pods send statsd metrics over UDP (fixed source port) to the statsd exporter in the prometheus pod.
  api.slots.forEach((s, slot) => {
    const p = s[0]!;
    const base = {
      protocol: 17 as const, family: 'IPV4' as const, init: podEp(p), initIp: p.ip, sport: 41_125 + slot, resp: podEp(prom), respIp: prom.ip, dport: 9125,
      via: { ip: sStatsd.clusterIP, port: sStatsd.port, nodePort: false }, origBase: 140, replyBase: 0, origBps: 150, replyBps: 0,
    };
    const begin = Math.max(p.created, prom.created) + 60_000;
    if (p.node.index === 3) {
      // Goes idle at the special tick, expires (DESTROY lost), and a new entry takes the same id and tuple.
      const c1 = conn({ ...base, begin, activeUntil: tSpecial, end: tSpecial + 180_000, lostDestroyOn: 3 });
      conn({ ...base, begin: tSpecial + 240_000, end: Infinity, reuseIdOf: c1.key });
    } else {
      conn({ ...base, begin, end: Infinity });
    }
  });
  // recommender keeps a pool of 2 connections to postgres (through the Service).
  const rec = only(recommender, 0);
  for (let i = 0; i < 2; i++) {
    conn({
      protocol: 6, family: 'IPV4', init: podEp(rec), initIp: rec.ip, sport: ephemeral(rng), resp: podEp(pg0), respIp: pg0.ip, dport: 5432,
      via: { ip: sPostgres.clusterIP, port: sPostgres.port, nodePort: false }, begin: rec.created + 30_000 + i * 500, end: Infinity,
      origBase: 1_800, replyBase: 6_000, origBps: 180 + i * 40, replyBps: 2_100 + i * 300,
    });
  }
  // Each frontend pod keeps one gRPC channel to the recommender Service for its whole life.
  for (const slot of frontend.slots) {
    for (const p of slot) {
      conn({
        protocol: 6, family: 'IPV4', init: podEp(p), initIp: p.ip, sport: ephemeral(rng), resp: podEp(rec), respIp: rec.ip, dport: 8080,
        via: { ip: sRecommender.clusterIP, port: sRecommender.port, nodePort: false }, begin: Math.max(p.created, rec.created) + 12_000,
        end: p.deleted === Infinity ? Infinity : p.deleted - 1_000, origBase: 700, replyBase: 1_500, origBps: 90 + p.node.index * 10, replyBps: 640,
      });
    }
  }
  // The compromised pod: from 12 h before the end, a stratum connection to a pool in a never-seen country, reconnecting every 3 h.
  const minerStart = end - 12 * HOUR;
  for (let i = 0; i < 4; i++) {
    const begin = minerStart + 180_000 + i * 3 * HOUR;
    conn({
      protocol: 6, family: 'IPV4', init: podEp(rec), initIp: rec.ip, sport: ephemeral(rng), resp: ext(EXT.miner), respIp: EXT.miner.ip, dport: MINING_PORT,
      begin, end: i === 3 ? Infinity : begin + 3 * HOUR - 240_000, origBase: 400, replyBase: 300, origBps: 11_000 + rng.int(0, 2_000), replyBps: 900,
    });
  }
  persistent.sort((a, b) => a.begin - b.begin || a.key - b.key);

  // ---- short connections, per hour ----------------------------------------------------------------
  const window = (k: number): SimConnection[] => {
    const w0 = start + k * HOUR;
    const r = Rng.of(seed, 0x5a, k);
    const out: SimConnection[] = [];
    let i = 0;
    const f = diurnal(w0 + HOUR / 2);
    const count = (base: number, min = 0) => Math.max(min, Math.round(base * scale * f));
    const duration = (): number => {
      const x = r.next();
      if (x < 0.8) return Math.round(r.logUniform(40, 30_000));
      if (x < 0.95) return Math.round(r.logUniform(60_000, 20 * 60_000));
      return Math.round(r.logUniform(20 * 60_000, 150 * 60_000));
    };
    const add = (
      init: SimEndpoint, initIp: string, resp: SimEndpoint, respIp: string, dport: number, begin: number, dur: number,
      ob: number, rb: number, extra: { via?: SimConnection['via']; family?: IpFamily } = {},
    ) => {
      let stop = begin + dur;
      if (init.t === 'pod') stop = Math.min(stop, init.pod.deleted - 500, init.pod.finished ?? Infinity);
      if (resp.t === 'pod') stop = Math.min(stop, resp.pod.deleted - 500);
      if (stop <= begin + 10) return;
      const secs = (stop - begin) / 1000;
      const c: SimConnection = {
        key: (k + PRE_WINDOWS + 1) * 1_000_000 + i++, protocol: 6, family: extra.family ?? 'IPV4', init, initIp, sport: ephemeral(r), resp, respIp, dport,
        begin, activeUntil: stop, end: stop + (r.next() < 0.5 ? 0 : r.int(100, 4_000)),
        origBase: 74 + r.int(0, 300), replyBase: 66 + r.int(0, 300), origBps: Math.max(0, ob - 74) / secs, replyBps: Math.max(0, rb - 66) / secs,
      };
      if (extra.via) c.via = extra.via;
      out.push(c);
    };
    const at = () => w0 + r.int(1, HOUR - 1);
    const viaSvc = (s: { clusterIP: string; port: number }) => ({ via: { ip: s.clusterIP, port: s.port, nodePort: false } });
    const backend = (w: SimWorkload, t: number) => podAt(w, r.int(0, w.slots.length - 1), t);

    // frontend -> checkout and recommender (through their ClusterIPs)
    for (let s = 0; s < frontend.slots.length; s++) {
      for (let n = count(10); n > 0; n--) {
        const b = at();
        const p = podAt(frontend, s, b);
        const q = backend(checkout, b);
        if (p && q) add(podEp(p), p.ip, podEp(q), q.ip, 8080, b, duration(), r.logUniform(1_000, 20_000), r.logUniform(5_000, 200_000), viaSvc(sCheckout));
      }
      for (let n = count(3); n > 0; n--) {
        const b = at();
        const p = podAt(frontend, s, b);
        const q = backend(recommender, b);
        if (p && q) add(podEp(p), p.ip, podEp(q), q.ip, 8080, b, duration(), r.logUniform(800, 5_000), r.logUniform(10_000, 100_000), viaSvc(sRecommender));
      }
    }
    for (let s = 0; s < checkout.slots.length; s++) {
      // checkout -> inventory:7777 (in-cluster; a mining port number that must not be flagged), postgres, payment API, S3
      for (let n = count(5); n > 0; n--) {
        const b = at();
        const p = podAt(checkout, s, b);
        const q = backend(inventory, b);
        if (p && q) add(podEp(p), p.ip, podEp(q), q.ip, 7777, b, duration(), r.logUniform(2_000, 20_000), r.logUniform(5_000, 50_000), viaSvc(sInventory));
      }
      for (let n = count(3); n > 0; n--) {
        const b = at();
        const p = podAt(checkout, s, b);
        if (p) add(podEp(p), p.ip, podEp(pg0), pg0.ip, 5432, b, duration(), r.logUniform(5_000, 50_000), r.logUniform(50_000, 2_000_000), viaSvc(sPostgres));
      }
      for (let n = count(3, 1); n > 0; n--) {
        const b = at();
        const p = podAt(checkout, s, b);
        if (p) add(podEp(p), p.ip, ext(EXT.payment), EXT.payment.ip, 443, b, Math.round(r.logUniform(300, 5_000)), r.logUniform(2_000, 8_000), r.logUniform(2_000, 6_000));
      }
      for (let n = count(2); n > 0; n--) {
        const b = at();
        const p = podAt(checkout, s, b);
        const ip = r.pick(S3_IPS);
        const s3: External = { ip, family: 'IPV4', cls: 'cloud_service', country: '', asn: 0, label: 'S3 us-east-1', region: 'us-east-1' };
        if (p) add(podEp(p), p.ip, ext(s3), ip, 443, b, Math.round(r.logUniform(500, 60_000)), r.logUniform(100_000, 5_000_000), r.logUniform(1_000, 5_000));
      }
    }
    for (let s = 0; s < api.slots.length; s++) {
      // internet clients -> web/api through the NodePort on the pod's node (externalTrafficPolicy: Local)
      for (const [country, asn, prefix, lo, hi] of CLIENTS) {
        for (let n = count(4, 1); n > 0; n--) {
          const b = at();
          const p = podAt(api, s, b);
          const ip = prefix + r.int(lo, hi);
          const client: External = { ip, family: 'IPV4', cls: 'internet', country, asn, label: `client (${country})` };
          if (p) {
            add(ext(client), ip, podEp(p), p.ip, 8080, b, duration(), r.logUniform(500, 5_000), r.logUniform(20_000, 2_000_000), {
              via: { ip: p.node.ip, port: sApi.nodePort!, nodePort: true },
            });
          }
        }
      }
      // web/api -> partner APIs (SE, CN) and an IPv6-only API (JP)
      for (const e of [EXT.apiSe, EXT.apiCn, EXT.apiJp6]) {
        for (let n = count(1, 1); n > 0; n--) {
          const b = at();
          const p = podAt(api, s, b);
          if (!p) continue;
          const v6 = e.family === 'IPV6';
          add(podEp(p), v6 ? p.ip6 : p.ip, ext(e), e.ip, 443, b, Math.round(r.logUniform(200, 20_000)), r.logUniform(1_000, 30_000), r.logUniform(2_000, 300_000), { family: e.family });
        }
      }
    }
    // postgres-0 ships WAL archives to the DR replica in the peered VPC (direct), once an hour.
    {
      const b = w0 + r.int(60_000, 30 * 60_000);
      add(podEp(pg0), pg0.ip, ext(EXT.dr), EXT.dr.ip, 5432, b, r.int(5, 20) * 60_000, r.logUniform(20e6, 60e6), r.logUniform(20_000, 80_000));
    }
    for (let n = count(2); n > 0; n--) {
      const b = at();
      add(podEp(rec), rec.ip, podEp(pg0), pg0.ip, 5432, b, duration(), r.logUniform(2_000, 20_000), r.logUniform(20_000, 500_000), viaSvc(sPostgres));
    }
    // report-nightly: read from postgres, then upload the report (GB) in two parallel streams.
    for (const p of report.slots[0]!) {
      if (p.created < w0 || p.created >= w0 + HOUR) continue;
      add(podEp(p), p.ip, podEp(pg0), pg0.ip, 5432, p.created + 4_000, 14 * 60_000 + r.int(0, 60_000), r.logUniform(50_000, 200_000), r.logUniform(50e6, 100e6), viaSvc(sPostgres));
      for (let u = 0; u < 2; u++) {
        add(podEp(p), p.ip, ext(EXT.upload), EXT.upload.ip, 443, p.created + 16 * 60_000 + u * 1_000, 15 * 60_000 + r.int(0, 300_000), r.logUniform(100e6, 200e6), r.logUniform(200_000, 600_000));
      }
    }
    // Drawn last, so the connections above stay those of earlier versions of the scenario.
    // checkout copies objects to a backup bucket in us-west-2 (S3 in another region: cloud_service,
    // priced cross-region, through the NAT gateway).
    for (let s = 0; s < checkout.slots.length; s++) {
      for (let n = count(1); n > 0; n--) {
        const b = at();
        const p = podAt(checkout, s, b);
        if (p) add(podEp(p), p.ip, ext(EXT.s3West), EXT.s3West.ip, 443, b, Math.round(r.logUniform(500, 60_000)), r.logUniform(50_000, 2_000_000), r.logUniform(1_000, 5_000));
      }
    }
    // web/api calls a partner's service hosted on EC2: an Amazon address, but internet.
    for (let s = 0; s < api.slots.length; s++) {
      for (let n = count(1, 1); n > 0; n--) {
        const b = at();
        const p = podAt(api, s, b);
        if (p) add(podEp(p), p.ip, ext(EXT.ec2Partner), EXT.ec2Partner.ip, 443, b, Math.round(r.logUniform(200, 20_000)), r.logUniform(2_000, 40_000), r.logUniform(5_000, 400_000));
      }
    }
    return out;
  };

  // Every node's ticks read every window (keeping the connections that touch the node); the
  // agents of a cluster advance together, so a few recent windows are kept for the other nodes.
  const cache = new Map<number, readonly SimConnection[]>();
  const cachedWindow = (k: number): readonly SimConnection[] => {
    let w = cache.get(k);
    if (w === undefined) {
      w = window(k);
      cache.set(k, w);
      if (cache.size > 8) cache.delete(cache.keys().next().value!);
    }
    return w;
  };
  return { persistent, firstWindow: -PRE_WINDOWS, hours, window: cachedWindow, specialTick, minerStart };
}

export { MAX_SHORT };
