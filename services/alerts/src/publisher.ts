// `tollgate alerts`: anomaly rows (ClickHouse view anomalies_window) and budget overruns (view
// budget_overruns, rule BUDGET) -> egress.anomalies.v1, each exactly once, across a crash of the publisher at any moment and a broker restart.
//
// The ledger of what is published (ClickHouse alerts_published) is filled from the topic itself:
// a consumer (the ledger follower, its own group) reads every event on the topic, records its id,
// then commits. A round:
//
//   1. waits until the follower has committed the topic's end offsets: every event on the topic
//      is in the ledger;
//   2. selects the anomalies of the lookback window whose id is not in the ledger;
//   3. produces them (idempotent producer, acks=all: a retried send is not duplicated);
//   4. waits for the follower again, so the next round sees them.
//
// A crash before 3 leaves nothing to undo. A crash during or after 3 leaves events on the topic
// that the ledger lacks; the restarted publisher does step 1 first, finds them, and does not
// produce them again. A crash of the follower between its insert and its commit re-reads the
// events and records them again (harmless: the ledger is keyed by id). A broker restart fails a
// round (the send or the catch-up); the next round starts with step 1 again.
// Assumes one publisher per topic at a time (a second one could race between 2 and 4).
import { pendingAlerts, recordPublished, type PendingAlert, type PublishedAlert, type Store } from '@tollgate/clickhouse';
import type { Logger } from '@tollgate/log';
import type { Registry } from '@tollgate/metrics';
import { caughtUp, errorMessage, once, type Component, type Consumer, type InMessage, type Producer, type TopicNames, type Transport } from '@tollgate/pipeline';
import { Family, type AnomalyEvent, type SchemaRegistry } from '@tollgate/schema';
import type { AlertsSettings } from './config.ts';
import { alertsMetrics } from './metrics.ts';

export const ALERTS_STAGE = 'alerts';
export const DEFAULT_ALERTS_GROUP = 'tollgate-alerts-ledger';

/** Points of a round, for tests that crash the publisher right after one. */
export type AlertStep = 'caught-up' | 'selected' | 'produced' | 'recorded';

export interface AlertPublisherDeps {
  transport: Transport;
  store: Store;
  topics: TopicNames;
  registry: SchemaRegistry;
  settings: AlertsSettings;
  logger: Logger;
  /** The ledger follower's consumer group. */
  groupId?: string;
  clientId?: string;
  /** Prometheus registry for alertsMetrics (the CLI passes the process registry). */
  metrics?: Registry;
  now?: () => number;
  /** Called after each step of a round (tests). */
  afterStep?: (step: AlertStep, round: number) => void | Promise<void>;
}

export interface AlertStats {
  rounds: number;
  published: number;
  recorded: number;
}

export interface AlertPublisher extends Component {
  /** Settles when the publisher stops: after its one round (intervalMs 0) or stop(); rejects on a failure. */
  readonly done: Promise<void>;
  stats(): AlertStats;
  ready(): true | string;
}

const HOUR = 3_600_000;

/** The Avro event of an anomaly row or a budget overrun. */
export function toEvent(r: PendingAlert, detectedAt: number): AnomalyEvent {
  return {
    id: r.id,
    detected_at: detectedAt,
    window_start: r.window_start,
    window_end: r.window_end,
    cluster: r.cluster,
    namespace: r.namespace,
    workload_kind: r.workload_kind,
    workload: r.workload,
    rule: r.rule,
    destination: { country: r.country, asn: r.asn, ip: r.ip, port: r.port },
    bytes: r.bytes,
    baseline_bytes: r.baseline_bytes,
    score: r.score,
    severity: r.severity,
    budget: r.budget,
  };
}

export function createAlertPublisher(deps: AlertPublisherDeps): AlertPublisher {
  const { transport, store, topics, registry, settings, logger } = deps;
  const topic = topics.anomalies;
  const groupId = deps.groupId ?? DEFAULT_ALERTS_GROUP;
  const clientId = deps.clientId ?? 'tollgate-alerts';
  const now = deps.now ?? Date.now;
  const codec = registry.codec<AnomalyEvent>(Family.anomaly);
  const m = deps.metrics ? alertsMetrics.instruments(deps.metrics) : undefined;
  const stats: AlertStats = { rounds: 0, published: 0, recorded: 0 };
  let consumer: Consumer | undefined;
  let producer: Producer | undefined;
  let stopping = false;
  let started = false;
  let wake: (() => void) | undefined;
  let resolveDone!: () => void;
  let rejectDone!: (e: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  done.catch(() => {});

  /** The ledger follower: every event on the topic into alerts_published, then commit. */
  const follow = async (msgs: InMessage[]): Promise<void> => {
    const found: PublishedAlert[] = [];
    for (const msg of msgs) {
      try {
        const e = codec.decode(msg.value);
        found.push({ id: e.id, topic: msg.topic, partition: msg.partition, offset: msg.offset, window_start: e.window_start });
      } catch (err) {
        m?.tollgate_alerts_unreadable_total.inc();
        logger.warn({ topic: msg.topic, partition: msg.partition, offset: msg.offset, err: errorMessage(err) }, 'skipping a message that is not an AnomalyEvent');
      }
    }
    await recordPublished(store, found);
    stats.recorded += found.length;
    m?.tollgate_alerts_recorded_total.inc(found.length);
  };

  const waitLedger = async (): Promise<void> => {
    const deadline = Date.now() + settings.catchUpTimeoutMs;
    while (!(await caughtUp(transport, groupId, topic))) {
      if (stopping) throw new Error('stopped');
      if (Date.now() > deadline) throw new Error(`the alerts ledger did not catch up with ${topic} within ${settings.catchUpTimeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const round = async (n: number): Promise<number> => {
    await waitLedger();
    await deps.afterStep?.('caught-up', n);
    const t = now();
    const to = Math.floor(t / HOUR) * HOUR;
    const pending = await pendingAlerts(store, { from: to - settings.lookbackMs, to });
    m?.tollgate_alerts_pending.set(pending.length);
    await deps.afterStep?.('selected', n);
    if (pending.length > 0) {
      await producer!.send(
        topic,
        pending.map((r) => ({ key: `${r.cluster}/${r.namespace}/${r.workload_kind}/${r.workload}`, value: codec.encode(toEvent(r, t)) })),
      );
      stats.published += pending.length;
      for (const r of pending) m?.tollgate_alerts_published_total.inc({ rule: r.rule, severity: r.severity });
      logger.info({ published: pending.length, topic }, 'published anomalies');
    }
    await deps.afterStep?.('produced', n);
    await waitLedger();
    await deps.afterStep?.('recorded', n);
    stats.rounds++;
    m?.tollgate_alerts_rounds_total.inc();
    return pending.length;
  };

  const loop = async (): Promise<void> => {
    for (let n = 1; !stopping; n++) {
      await round(n);
      if (settings.intervalMs === 0) return;
      await new Promise<void>((r) => {
        const timer = setTimeout(r, settings.intervalMs);
        wake = () => {
          clearTimeout(timer);
          r();
        };
      });
    }
  };

  const stop = once(async () => {
    stopping = true;
    wake?.();
    await Promise.allSettled([done]);
    await consumer?.close();
    await producer?.close();
  });

  return {
    name: ALERTS_STAGE,
    done,
    stats: () => ({ ...stats }),
    ready: () => (started ? true : 'starting'),
    async start() {
      producer = await transport.producer(clientId);
      consumer = await transport.consumer(`${clientId}-ledger`, { groupId, topics: [topic] });
      await consumer.run(follow);
      consumer.done.catch((err: unknown) => {
        logger.error({ err: errorMessage(err) }, 'the alerts ledger follower failed');
        stopping = true;
        wake?.();
        rejectDone(err);
      });
      started = true;
      loop().then(resolveDone, (err: unknown) => (stopping && errorMessage(err) === 'stopped' ? resolveDone() : rejectDone(err)));
    },
    stop,
  };
}
