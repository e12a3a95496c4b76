// End to end on the real parts: a Kafka broker (infra/kafka/kafka.sh ensure), chDB, and the
// agent, enricher and sink as three separate `tollgate` processes, each its own Kafka client.
// The simulated cluster's ground truth (computed from the scenario, not by the pipeline) must
// come out of ClickHouse exactly: bytes per workload per class, costs at the seed prices, and
// the planted anomaly and nothing else, although the sink is killed (SIGKILL) mid-stream and
// restarted, and a poison message sits in the raw topic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@tollgate/log';
import { createKafkaTransport } from '@tollgate/kafka';
import { createScenario, DAY } from '@tollgate/sim';
import { freePort, startTollgate as start, type Proc } from './support/processes.ts';
import { assertStoredTruth, BROKERS, countMessages, drained, endRun, scrape, stageEnv, sum, waitFor } from './support/e2e.ts';
import { allTopics, dlqTopic, DlqHeaders, topicNames } from '@tollgate/pipeline';

test('agent -> Kafka -> enricher -> Kafka -> sink -> chDB: exact bytes, costs and anomalies, across a sink crash', { timeout: 300_000 }, async () => {
  const prefix = `e2e-${process.pid}-${Date.now()}`;
  const topics = topicNames(prefix);
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-e2e-'));
  const simStart = Math.floor(Date.now() / DAY) * DAY - 8 * DAY;
  const scenario = createScenario({ seed: 7, days: 8, scale: 1, start: simStart });
  const env = stageEnv({ prefix, dataDir, scenario });
  const logger = createLogger('warn');
  const kafka = await createKafkaTransport({ brokers: [BROKERS], client: 'platformatic', clientId: 'e2e-test', logger });
  const procs: Proc[] = [];
  try {
    await kafka.ensureTopics(allTopics(topics), 3);
    // Two poison messages: not Avro at all, and Avro of a schema nobody knows (a valid marker,
    // an unknown fingerprint). They must go to the raw DLQ with their reasons and block nothing.
    const producer = await kafka.producer('e2e-poison');
    const unknownSchema = Buffer.concat([Buffer.from([0xc3, 0x01]), Buffer.from('0123456789abcdef', 'hex'), Buffer.from([2, 0x61])]);
    await producer.send(topics.raw, [
      { key: scenario.nodes[0]!, value: Buffer.from('{"not":"avro"}') },
      { key: scenario.nodes[0]!, value: unknownSchema },
    ]);
    await producer.close();

    // Small inserts, so the sink is still busy when it is killed.
    const sinkEnv = { ...env, TOLLGATE_SINK_BATCH_ROWS: '2000' };
    let sink = start('sink', 'sink', sinkEnv);
    procs.push(sink);
    // The enricher serves /metrics, /healthz and /readyz (checked against what it processed, below).
    const metricsPort = await freePort();
    const enricher = start('enricher', 'enricher', { ...env, TOLLGATE_METRICS_PORT: String(metricsPort), TOLLGATE_METRICS_HOST: '127.0.0.1' });
    procs.push(enricher);
    const agent = start('agent', 'agent', env);
    procs.push(agent);

    // Kill the sink once, mid-stream, after it has committed some batches.
    await waitFor('the sink to commit a first batch', async () => sum(await kafka.committed(`${prefix}.tollgate-sink`, topics.enriched)) > 0, 120_000, procs);
    sink.child.kill('SIGKILL');
    await sink.exited;
    const committedAtKill = sum(await kafka.committed(`${prefix}.tollgate-sink`, topics.enriched));
    sink = start('sink (restarted)', 'sink', sinkEnv);
    procs.push(sink);

    assert.equal(await agent.exited, 0, `agent exit code\n${agent.log.join('')}`);
    await drained(kafka, prefix, topics, procs);
    const enrichedMessages = sum(await kafka.endOffsets(topics.enriched));
    assert.ok(committedAtKill > 0 && committedAtKill < enrichedMessages, `killed mid-stream: ${committedAtKill} of ${enrichedMessages} committed`);
    // The enricher's endpoint, scraped while it runs: alive, ready, and counters equal to what it
    // processed (the raw topic's messages, Kafka's count of its DLQ, and below the rows stored).
    const base = `http://127.0.0.1:${metricsPort}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const metric = await scrape(metricsPort);
    const stage = { stage: 'enricher' };
    assert.equal(metric('tollgate_messages_in_total', stage), sum(await kafka.endOffsets(topics.raw)), 'enricher messages in = raw topic messages');
    const rawDlq = await countMessages(kafka, dlqTopic(topics.raw), `${prefix}-dlq-count`);
    assert.equal(metric('tollgate_dlq_messages_total', stage), rawDlq, 'enricher DLQ counter = raw DLQ messages');
    assert.ok((metric('tollgate_process_resident_memory_bytes') ?? 0) > 0, 'process metrics');
    const recordsOut = metric('tollgate_records_out_total', stage);

    for (const p of [sink, enricher]) p.child.kill('SIGTERM');
    assert.equal(await sink.exited, 0, `sink exit code\n${sink.log.join('')}`);
    assert.equal(await enricher.exited, 0, `enricher exit code\n${enricher.log.join('')}`);

    // The poison messages, and only they, are in the raw DLQ; nothing in the enriched DLQ.
    assert.equal(rawDlq, 2);
    assert.equal(sum(await kafka.endOffsets(dlqTopic(topics.enriched))), 0);
    const dlq: Array<Record<string, string>> = [];
    const reader = await kafka.consumer('e2e-dlq', { groupId: `${prefix}-dlq`, topics: [dlqTopic(topics.raw)] });
    await reader.run(async (msgs) => void dlq.push(...msgs.map((m) => m.headers)));
    await waitFor('the DLQ messages', async () => dlq.length === 2, 30_000, procs);
    await reader.close();
    assert.match(dlq[0]![DlqHeaders.reason]!, /not an Avro single-object message/);
    assert.match(dlq[1]![DlqHeaders.reason]!, /unknown writer schema fingerprint efcdab8967452301/);

    // Every record the enricher counted out is one row in flows (no crash of the enricher here);
    // bytes, costs and anomalies exactly the ground truth.
    await assertStoredTruth(dataDir, scenario, recordsOut, logger);
  } finally {
    await endRun(procs, kafka, dataDir);
  }
});
