// Which Kafka client should Tollgate run (TOLLGATE_KAFKA_CLIENT)? Produces and consumes real
// raw-flow-batch messages (Avro, a few hundred IPv4 flows each) through Tollgate's own Kafka
// transport with each client, on fresh topics, in alternating order over several rounds.
//
//   bash infra/kafka/kafka.sh ensure && npx node test/bench/kafka-clients.ts [messages] [flowsPerMessage] [rounds]
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { createLogger } from '@tollgate/log';
import { createKafkaTransport, kafkaClients, type KafkaClientName } from '@tollgate/kafka';
import type { OutMessage } from '@tollgate/pipeline';
import { Family, SchemaRegistry, type RawFlow, type RawFlowBatch } from '@tollgate/schema';

export interface ClientFigures {
  produce_msgs_per_s: number;
  consume_msgs_per_s: number;
  produce_flows_per_s: number;
  consume_flows_per_s: number;
}

export interface BenchOptions {
  brokers: string[];
  messages: number;
  flowsPerMessage: number;
  /** Rounds per client (order alternates each round); the median round is reported. Default 3. */
  rounds?: number;
  /** Messages per Producer.send call (an agent sends one poll's batches at once). Default 20. */
  sendBatch?: number;
  log?: (s: string) => void;
}

/** A small deterministic PRNG (mulberry32), so every run sends the same flows. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Encoded raw-flow-batch messages as node agents would send them (keyed by node). */
export function rawMessages(count: number, flowsPerMessage: number, seed = 1): OutMessage[] {
  const codec = SchemaRegistry.load().codec<RawFlowBatch>(Family.raw);
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const podIp = () => `10.${int(4)}.${int(256)}.${1 + int(254)}`;
  const extIp = () => `${1 + int(222)}.${int(256)}.${int(256)}.${1 + int(254)}`;
  const now = Date.UTC(2026, 0, 1);
  // Encoding is not what is measured: a pool of distinct messages is sent round-robin.
  const pool: OutMessage[] = [];
  const nodes = 12;
  for (let i = 0; i < Math.min(count, 64); i++) {
    const node = `node-${i % nodes}`;
    const flows: RawFlow[] = [];
    for (let f = 0; f < flowsPerMessage; f++) {
      const external = rnd() < 0.2;
      const src = podIp();
      const dst = external ? extIp() : rnd() < 0.3 ? `10.96.${int(256)}.${1 + int(254)}` : podIp();
      const realDst = dst.startsWith('10.96.') ? podIp() : dst;
      const sport = 32768 + int(28000);
      const dport = [443, 80, 5432, 6379, 9092, 8080, 53][int(7)]!;
      const packets = 1 + int(2000);
      flows.push({
        conntrack_id: 1 + int(2 ** 31),
        protocol: dport === 53 ? 17 : 6,
        family: 'IPV4',
        original: { src, dst, sport, dport },
        reply: { src: realDst, dst: external ? `100.64.${int(256)}.${1 + int(254)}` : src, sport: dport, dport: sport },
        orig_bytes: packets * (60 + int(1400)),
        orig_packets: packets,
        reply_bytes: packets * (60 + int(1400)),
        reply_packets: packets,
        flow_start: now - int(3_600_000),
        final: rnd() < 0.1,
      });
    }
    const batch: RawFlowBatch = { cluster: 'bench', node, agent_id: `${node}@${now}`, seq: i, window_start: now - 10_000, window_end: now, flows };
    pool.push({ key: node, value: codec.encode(batch), headers: { agent: batch.agent_id } });
  }
  return Array.from({ length: count }, (_, i) => pool[i % pool.length]!);
}

interface Round {
  produceS: number;
  consumeS: number;
}

async function oneRound(client: KafkaClientName, opts: BenchOptions, messages: OutMessage[], tag: string): Promise<Round> {
  const logger = createLogger('warn');
  const t = await createKafkaTransport({ brokers: opts.brokers, client, clientId: `bench-${client}`, logger });
  try {
    const topic = `tollgate-bench-${tag}-${client}`;
    await t.ensureTopics([topic], 3);
    const producer = await t.producer('bench');
    const sendBatch = opts.sendBatch ?? 20;
    // A warm-up send (connections, producer id) is not timed; the consumer reads it too.
    await producer.send(topic, messages.slice(0, 1));
    const p0 = performance.now();
    for (let i = 0; i < messages.length; i += sendBatch) await producer.send(topic, messages.slice(i, i + sendBatch));
    const produceS = (performance.now() - p0) / 1000;
    await producer.close();

    const total = messages.length + 1;
    const consumer = await t.consumer('bench', { groupId: `${topic}-g`, topics: [topic], maxBatch: 100, maxWaitMs: 100 });
    let seen = 0;
    let bytes = 0;
    let finished!: () => void;
    const all = new Promise<void>((r) => (finished = r));
    const c0 = performance.now();
    let joinedAt = c0;
    await consumer.run(async (batch) => {
      seen += batch.length;
      for (const m of batch) bytes += m.value.length;
      if (seen >= total) finished();
    });
    joinedAt = performance.now();
    await Promise.race([all, consumer.done.then(() => Promise.reject(new Error('consumer stopped')))]);
    const consumeS = (performance.now() - joinedAt) / 1000;
    await consumer.close();
    opts.log?.(
      `  ${client.padEnd(12)} produce ${(messages.length / produceS).toFixed(0).padStart(6)} msg/s   consume ${(total / consumeS).toFixed(0).padStart(6)} msg/s   (join ${((joinedAt - c0) / 1000).toFixed(2)} s, ${(bytes / 1e6).toFixed(1)} MB)`,
    );
    return { produceS, consumeS };
  } finally {
    await t.close();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export async function benchKafkaClients(opts: BenchOptions): Promise<Record<KafkaClientName, ClientFigures>> {
  const rounds = opts.rounds ?? 3;
  const messages = rawMessages(opts.messages, opts.flowsPerMessage);
  const size = messages.reduce((a, m) => a + m.value.length, 0) / messages.length;
  opts.log?.(`kafka clients: ${opts.messages} messages x ${opts.flowsPerMessage} flows (${(size / 1024).toFixed(1)} KiB each), ${rounds} rounds`);
  const run = `${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
  const results = new Map<KafkaClientName, Round[]>(kafkaClients.map((c) => [c, []]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [...kafkaClients] : [...kafkaClients].reverse();
    for (const client of order) results.get(client)!.push(await oneRound(client, opts, messages, `${run}-r${r}`));
  }
  const out = {} as Record<KafkaClientName, ClientFigures>;
  for (const [client, rs] of results) {
    const produce = median(rs.map((x) => opts.messages / x.produceS));
    const consume = median(rs.map((x) => (opts.messages + 1) / x.consumeS));
    out[client] = {
      produce_msgs_per_s: Math.round(produce),
      consume_msgs_per_s: Math.round(consume),
      produce_flows_per_s: Math.round(produce * opts.flowsPerMessage),
      consume_flows_per_s: Math.round(consume * opts.flowsPerMessage),
    };
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [messages = 1000, flows = 500, rounds = 3] = process.argv.slice(2).map(Number);
  const brokers = (process.env.TOLLGATE_KAFKA_BROKERS || '127.0.0.1:9092').split(',');
  const figures = await benchKafkaClients({ brokers, messages, flowsPerMessage: flows, rounds, log: (s) => console.log(s) });
  console.table(figures);
  const p = figures.platformatic;
  const k = figures.kafkajs;
  console.log(
    `platformatic / kafkajs: produce x${(p.produce_msgs_per_s / k.produce_msgs_per_s).toFixed(2)}, consume x${(p.consume_msgs_per_s / k.consume_msgs_per_s).toFixed(2)}`,
  );
}
