import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConntrackTick } from '@tollgate/conntrack';
import { createLogger } from '@tollgate/log';
import { MemoryTransport, type OutMessage, type Producer } from '@tollgate/pipeline';
import { Family, type RawFlowBatch, SchemaRegistry } from '@tollgate/schema';
import { createScenario } from '@tollgate/sim';
import { createAgent } from './agent.ts';
import { toBatches } from './batch.ts';
import { type ConntrackSource, simSource } from './source.ts';

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

describe('toBatches', () => {
  it('splits into batches of at most maxFlows, numbering from seq', () => {
    const f = (i: number) => ({ conntrack_id: i }) as unknown as RawFlowBatch['flows'][number];
    const h = { cluster: 'c', node: 'n', agent_id: 'a', window_start: 1, window_end: 2 };
    const b = toBatches([f(1), f(2), f(3), f(4), f(5)], h, 2, 7);
    assert.deepEqual(
      b.map((x) => [x.seq, x.flows.map((y) => y.conntrack_id)]),
      [
        [7, [1, 2]],
        [8, [3, 4]],
        [9, [5]],
      ],
    );
    assert.deepEqual(toBatches([], h, 2, 0), []);
    assert.throws(() => toBatches([f(1)], h, 0, 0), RangeError);
  });
});

describe('agent over the simulated cluster', () => {
  it('ships deltas whose sums per node equal the scenario counters, in windows between ticks', async () => {
    const scenario = createScenario({ seed: 3, days: 3, scale: 1, start: START });
    const transport = new MemoryTransport({ maxLag: 100_000 });
    const topic = 'flows.raw.v1';
    await transport.ensureTopics([topic], 4);
    const producer = await transport.producer('agent');
    const agents = scenario.nodes.map((node) =>
      createAgent({ source: simSource(scenario, node), producer, topic, cluster: scenario.cluster, node, batchMaxFlows: 50, registry, logger, agentId: `${node}@test` }),
    );
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
        assert.equal(b.agent_id, `${node}@test`);
        assert.ok(b.flows.length >= 1 && b.flows.length <= 50);
        assert.equal(b.window_end - b.window_start, 3_600_000);
        assert.ok(b.window_start >= scenario.start && b.window_end <= scenario.end);
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
      assert.equal(s.origBytes, e.origBytes);
      assert.equal(s.messages, mine.length);
      assert.equal(s.ticks, 3 * 24 + 1);
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

  it('default scenario: 30-80 thousand raw flows in total', async () => {
    const scenario = createScenario({ seed: 1, days: 8, scale: 1, start: START });
    let flows = 0;
    const producer: Producer = { send: async (_t: string, m: OutMessage[]) => void (flows += m.reduce((a, x) => a + codec.decode(x.value).flows.length, 0)), close: async () => {} };
    const agents = scenario.nodes.map((node) => createAgent({ source: simSource(scenario, node), producer, topic: 't', cluster: 'demo', node, batchMaxFlows: 500, registry, logger }));
    for (const a of agents) await a.start();
    await Promise.all(agents.map((a) => a.done));
    assert.equal(flows, agents.reduce((a, x) => a + x.stats().flows, 0));
    assert.ok(flows >= 30_000 && flows <= 80_000, `${flows} raw flows`);
  });
});

describe('agent lifecycle', () => {
  function liveSource(ticks: ConntrackTick[]): ConntrackSource & { returned: boolean } {
    const src = {
      returned: false,
      async *[Symbol.asyncIterator]() {
        try {
          for (const t of ticks) yield t;
          await new Promise(() => {}); // a live source waits for its next poll forever
        } finally {
          src.returned = true;
        }
      },
    };
    return src;
  }
  const e = (ob: number) => ({ id: 1, protocol: 6, family: 'IPV4' as const, original: { src: '10.244.0.2', dst: '1.1.1.1', sport: 40000, dport: 443 }, reply: { src: '1.1.1.1', dst: '10.0.1.10', sport: 443, dport: 40000 }, origBytes: ob, origPackets: 1, replyBytes: 0, replyPackets: 0, start: 0 });

  it('stop() ends a live source that waits for its next poll, after shipping the tick in hand; stop is idempotent', async () => {
    const sent: RawFlowBatch[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const producer: Producer = {
      send: async (_t, m) => {
        await gate;
        for (const x of m) sent.push(codec.decode(x.value));
      },
      close: async () => {},
    };
    const src = liveSource([
      { time: 0, destroyed: [], dump: [e(10)] },
      { time: 10_000, destroyed: [], dump: [e(25)] },
    ]);
    const a = createAgent({ source: src, producer, topic: 't', cluster: 'c', node: 'n1', batchMaxFlows: 10, registry, logger });
    await a.start();
    await new Promise((r) => setTimeout(r, 20));
    const stopped = a.stop();
    release(); // the send in progress completes: stop flushes it
    await stopped;
    await a.stop();
    await a.done;
    assert.equal(sent.length, 1);
    assert.deepEqual([sent[0]!.window_start, sent[0]!.window_end, sent[0]!.flows[0]!.orig_bytes, sent[0]!.seq], [0, 10_000, 15, 0]);
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(a.stats().lastTick, 10_000);
  });

  it('retries a failing send and fails `done` when retries run out', async () => {
    let calls = 0;
    const producer: Producer = {
      send: async () => {
        calls++;
        throw new Error('broker down');
      },
      close: async () => {},
    };
    const src: ConntrackSource = {
      async *[Symbol.asyncIterator]() {
        yield { time: 0, destroyed: [], dump: [e(10)] };
        yield { time: 1, destroyed: [], dump: [e(20)] };
      },
    };
    const a = createAgent({ source: src, producer, topic: 't', cluster: 'c', node: 'n1', batchMaxFlows: 10, registry, logger, sendAttempts: 3, sendRetryBaseMs: 1 });
    await a.start();
    await assert.rejects(a.done, /broker down/);
    assert.equal(calls, 3);
  });
});
