// One enricher of the exactly-once test (exactly-once.test.ts), as its own process: the test
// starts two in one consumer group and SIGKILLs one in the middle of a Kafka transaction (after
// its sends, before its offsets and commit), as a crash would. Settings come from the test.
import { createKafkaTransport, type KafkaClientName } from '@tollgate/kafka';
import { createLogger } from '@tollgate/log';
import { topicNames } from '@tollgate/pipeline';
import { SchemaRegistry } from '@tollgate/schema';
import { Classifier } from './classifier.ts';
import { createEnricher } from './component.ts';
import { eventsSource } from './inventory.ts';
import { OwnerIndex } from './owner-index.ts';
import { added, node, pod, workload } from './testkit.ts';

const [brokers, prefix, client, killAtArg, name, debugArg] = process.argv.slice(2) as [string, string, KafkaClientName, string, string, string?];
const debug = debugArg === 'debug';
const killAt = Number(killAtArg);
const logger = createLogger(debug ? 'debug' : 'warn');
const n1 = node('n1', '10.0.1.10', 'us-east-1a', 'us-east-1');
const d = workload('Deployment', 'web', 'shop');
const rs = workload('ReplicaSet', 'web-1', 'shop', d);
const web = pod('web-1-a', 'shop', 'n1', '10.244.1.5', { owner: rs });
const transport = await createKafkaTransport({ brokers: [brokers], client, clientId: `eo-${name}`, logger });
// The crash: after the nth transaction's sends, before its offsets and commit.
const origTransactional = transport.transactional.bind(transport);
transport.transactional = (clientId, options) =>
  origTransactional(clientId, {
    ...options,
    afterProduce: async (n) => {
      if (debug) process.stderr.write(`transaction ${n}\n`);
      if (n === killAt) {
        process.stdout.write(`killing at transaction ${n}\n`);
        process.kill(process.pid, 'SIGKILL');
        await new Promise(() => {});
      }
      // Slow enough that both members share the work for a while.
      await new Promise((r) => setTimeout(r, 30));
    },
  });
const enricher = createEnricher({
  transport,
  topics: topicNames(prefix),
  registry: SchemaRegistry.load(),
  logger,
  context: { index: new OwnerIndex({ podGraceMs: 60_000 }), classifier: new Classifier(), cloud: '', natGateway: false },
  inventory: eventsSource([n1, d, rs, web].map((o) => added(o))),
  groupId: `${prefix}.enricher`,
  clientId: name,
  maxBatch: 5,
  transactions: true,
});
await enricher.start();
process.stdout.write('started\n');
process.on('SIGTERM', () => {
  void enricher.stop().then(() => transport.close()).then(() => process.exit(0));
});
await enricher.done.catch((err: unknown) => {
  process.stderr.write(`enricher failed: ${String(err)}\n`);
  process.exit(1);
});
