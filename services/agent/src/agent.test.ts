import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConntrackEntry, ConntrackTick } from '@tollgate/conntrack';
import { createLogger } from '@tollgate/log';
import { createRegistry } from '@tollgate/metrics';
import { MemoryTransport } from '@tollgate/pipeline';
import { Family, type RawFlowBatch, SchemaRegistry } from '@tollgate/schema';
import { createScenario } from '@tollgate/sim';
import { createAgent } from './agent.ts';
import { AckBuffer, kafkaOutput, type AgentOutput, type OutItem } from './buffer.ts';
import { loadAgentConfig } from './config.ts';
import { agentsFromConfig } from './factory.ts';

const registry = SchemaRegistry.load();
const codec = registry.codec<RawFlowBatch>(Family.raw);
const logger = createLogger('silent');
const START = Date.UTC(2025, 0, 6);

async function drain(transport: MemoryTransport, topic: string): Promise<RawFlowBatch[]> {
  const end = await transport.endOffsets(topic);
  const total = [...end.values()].reduce((a, b) => a + b, 0);
  const consumer = await transport.consumer('test', { groupId: `g-${Math.random()}`, topics: [topic], maxBatch: 1000, maxWaitMs: 5 });
  const out: RawFlowBatch[] = [];
  let n = 0;
  let resolve!: () => void;
  const all = new Promise<void>((r) => (resolve = r));
  await consumer.run(async (msgs) => {
    for (const m of msgs) out.push(codec.decode(m.value));
    n += msgs.length;
    if (n >= total) resolve();
  });
  if (total > 0) await all;
  await consumer.close();
  return out;
}

describe('agent over the simulated cluster (replayed through the conntrack text scanner)', () => {
  it('ships deltas whose sums per node equal the scenario counters', async () => {
    const scenario = createScenario({ seed: 3, days: 3, scale: 1, start: START });
    const transport = new MemoryTransport({ maxLag: 100_000 });
    const topic = 'flows.raw.v1';
    await transport.ensureTopics([topic], 4);
    const producer = await transport.producer('agent');
    const cfg = { ...loadAgentConfig({ TOLLGATE_AGENT_SOURCE: 'sim', TOLLGATE_BATCH_MAX_FLOWS: '50' }), nodeName: '' };
    const agents = agentsFromConfig(cfg, { registry, logger, topic, producer, scenario });
    assert.equal(agents.length, scenario.nodes.length);
    for (const a of agents) await a.start();
    await Promise.all(agents.map((a) => a.done));
    const batches = await drain(transport, topic);
    const expected = scenario.truthByNode();
    for (const [i, node] of scenario.nodes.entries()) {
      const mine = batches.filter((b) => b.node === node);
      assert.ok(mine.length > 0);
      let ob = 0;
      let rb = 0;
      for (const b of mine) {
        assert.equal(b.cluster, 'demo');
        assert.ok(b.flows.length >= 1 && b.flows.length <= 50);
        assert.ok(b.window_start <= b.window_end && b.window_start >= scenario.start && b.window_end <= scenario.end);
        for (const f of b.flows) {
          ob += f.orig_bytes;
          rb += f.reply_bytes;
        }
      }
      assert.deepEqual(
        mine.map((b) => b.seq),
        mine.map((_, j) => j),
        'seq from 0, in order, per agent',
      );
      const e = expected.get(node)!;
      assert.equal(ob, e.origBytes, `${node} orig bytes`);
      assert.equal(rb, e.replyBytes, `${node} reply bytes`);
      const s = agents[i]!.stats();
      assert.equal(s.ackedOrigBytes, e.origBytes);
      assert.equal(s.messages, mine.length);
      assert.equal(s.cycles, 3 * 24 + 1);
      assert.equal(s.malformed + s.truncated + s.lostFlows, 0);
      if (i === 3) {
        // the planted overrun: one id reused with a restart, one entry gone without its DESTROY
        assert.equal(s.overruns, 2);
        assert.equal(s.vanished, 1);
        assert.equal(s.restarted, 1);
      } else {
        assert.equal(s.overruns + s.vanished + s.restarted, 0);
      }
    }
  });
});

const e = (ob: number, sport = 40000): ConntrackEntry => ({ id: 1, protocol: 6, family: 'IPV4', original: { src: '10.244.0.2', dst: '1.1.1.1', sport, dport: 443 }, reply: { src: '1.1.1.1', dst: '10.0.1.10', sport: 443, dport: sport }, origBytes: ob, origPackets: 1, replyBytes: 0, replyPackets: 0, start: 0 });

describe('ack buffer', () => {
  it('keeps batches until delivered, retries failures in order, and counts produce errors', async () => {
    let fail = 3;
    const got: string[] = [];
    const output: AgentOutput = {
      kind: 'custom',
      deliver: async (items) => {
        if (fail-- > 0) throw new Error('broker down');
        for (const i of items) got.push(i.payload as string);
      },
    };
    const acked: OutItem[] = [];
    let errors = 0;
    const b = new AckBuffer(output, 1 << 20, logger, { onAcked: (i) => acked.push(...i), onError: () => errors++ }, { retryBaseMs: 1 });
    for (const p of ['a', 'b', 'c']) b.push({ payload: p, flows: 1, origBytes: 1, replyBytes: 0 });
    assert.equal(b.depth, 3, 'nothing is dropped before it is acknowledged');
    await b.close(5_000);
    assert.deepEqual(got, ['a', 'b', 'c']);
    assert.equal(acked.length, 3);
    assert.equal(errors, 3);
  });

  it('is bounded: soft and hard limits, and what cannot be delivered by stop is counted lost', async () => {
    const output: AgentOutput = { kind: 'custom', deliver: () => Promise.reject(new Error('down')) };
    let lost = 0;
    const b = new AckBuffer(output, 1000, logger, { onLost: (i) => (lost += i.reduce((a, x) => a + x.flows, 0)) }, { retryBaseMs: 1 });
    b.push({ payload: 'x'.repeat(700), flows: 7, origBytes: 0, replyBytes: 0 });
    assert.deepEqual([b.soft, b.hard], [false, false]);
    b.push({ payload: 'x'.repeat(100), flows: 1, origBytes: 0, replyBytes: 0 });
    assert.deepEqual([b.soft, b.hard], [true, false]);
    b.push({ payload: 'x'.repeat(300), flows: 3, origBytes: 0, replyBytes: 0 });
    assert.equal(b.hard, true);
    await b.close(30);
    assert.equal(lost, 11);
    assert.equal(b.depth, 0);
  });
});

describe('agent lifecycle', () => {
  it('a replay paced by a slow output: every tick shipped, exact bytes, stop idempotent', async () => {
    const sent: RawFlowBatch[] = [];
    const output: AgentOutput = {
      kind: 'kafka',
      deliver: async (items) => {
        await new Promise((r) => setTimeout(r, 2));
        for (const i of items) sent.push(codec.decode(i.payload as Buffer));
      },
    };
    const ticks: ConntrackTick[] = [];
    for (let k = 0; k <= 20; k++) ticks.push({ time: k * 1000, destroyed: [], dump: [e(10 + k * 100), e(5 + k * 7, 40001)] });
    const metrics = createRegistry();
    const a = createAgent({ source: { kind: 'replay', ticks }, output, cluster: 'c', node: 'n1', batchMaxFlows: 1, registry, logger, bufferMaxBytes: 64 * 1024, metrics });
    await a.start();
    await a.done;
    await a.stop();
    await a.stop();
    assert.equal(sent.reduce((n, b) => n + b.flows[0]!.orig_bytes, 0), 20 * 100 + 20 * 7);
    const text = await metrics.metrics();
    assert.match(text, /tollgate_records_out_total\{stage="agent"\} 40/);
    assert.match(text, /tollgate_agent_delta_bytes_total\{direction="orig"\} 2140/);
  });

  it('a Kafka output that fails for a while loses nothing: the batches wait (past the stop flush timeout: a replay that ended waits for every acknowledgement), then all arrive once', async () => {
    const transport = new MemoryTransport();
    await transport.ensureTopics(['raw'], 1);
    const real = await transport.producer('p');
    let down = true;
    const producer = { send: (t: string, m: Parameters<typeof real.send>[1]) => (down ? Promise.reject(new Error('broker down')) : real.send(t, m)), close: () => real.close() };
    const ticks = [0, 1, 2, 3].map((k) => ({ time: k * 1000, destroyed: [], dump: [e(100 + k * 50)] }));
    const a = createAgent({ source: { kind: 'replay', ticks }, output: kafkaOutput(producer, 'raw', 'n1'), cluster: 'c', node: 'n1', batchMaxFlows: 10, registry, logger, retryBaseMs: 5, flushTimeoutMs: 20 });
    await a.start();
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(a.stats().flows, 0);
    assert.ok(a.stats().bufferBytes > 0);
    down = false;
    await a.done;
    const got = await drain(transport, 'raw');
    assert.deepEqual(got.map((b) => b.flows[0]!.orig_bytes), [50, 50, 50]);
    assert.equal(a.stats().lostFlows, 0);
  });
});
