// The catalogue of every Tollgate setting. The README's configuration table is checked
// against it by a test, so docs and code cannot drift.
import { bool, int, list, oneOf, str } from './config.ts';

export const common = {
  cluster: str('TOLLGATE_CLUSTER', 'Cluster name stamped on every record.', 'default'),
  logLevel: oneOf('TOLLGATE_LOG_LEVEL', 'pino log level.', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
};

export const metrics = {
  port: int('TOLLGATE_METRICS_PORT', 'Port of /metrics, /healthz and /readyz in the long-running services (agent, enricher, sink); 0 turns it off. One-shot commands (demo, report, migrate) serve none.', 9464, 0, 65_535),
  host: str('TOLLGATE_METRICS_HOST', 'Address the metrics endpoint listens on.', '0.0.0.0'),
};

export const kafka = {
  brokers: list('TOLLGATE_KAFKA_BROKERS', 'Kafka bootstrap servers, comma separated (host:port). Required by the services; `demo` runs its stages in one process without Kafka when empty.'),
  client: oneOf('TOLLGATE_KAFKA_CLIENT', 'Kafka client library (chosen by `npm run bench`, see README).', 'platformatic', ['platformatic', 'kafkajs'] as const),
  topicPrefix: str('TOLLGATE_TOPIC_PREFIX', 'Prefix for every topic name (isolates test runs and tenants).', ''),
  partitions: int('TOLLGATE_KAFKA_PARTITIONS', 'Partitions of each topic Tollgate creates (topics that exist are left alone).', 3, 1, 10_000),
  clientId: str('TOLLGATE_KAFKA_CLIENT_ID', 'Kafka client id prefix.', 'tollgate'),
};

export const clickhouse = {
  url: str('TOLLGATE_CLICKHOUSE_URL', 'ClickHouse server HTTP URL (http://host:8123). Empty: the embedded chDB engine in TOLLGATE_DATA_DIR.', ''),
  user: str('TOLLGATE_CLICKHOUSE_USER', 'ClickHouse user (server only).', 'default'),
  password: str('TOLLGATE_CLICKHOUSE_PASSWORD', 'ClickHouse password (server only; never logged).', '', { secret: true, defaultText: '(empty)' }),
  database: str('TOLLGATE_CLICKHOUSE_DATABASE', 'ClickHouse database Tollgate creates and uses.', 'tollgate'),
  dataDir: str('TOLLGATE_DATA_DIR', 'Directory of the embedded chDB store (one process owns it at a time).', '.tollgate/chdb'),
};

export const geoip = {
  countryDb: str('TOLLGATE_GEOIP_COUNTRY_DB', 'MaxMind-format country database (.mmdb). Empty: no countries (the demo uses the bundled MaxMind test database).', ''),
  asnDb: str('TOLLGATE_GEOIP_ASN_DB', 'MaxMind-format ASN database (.mmdb). Empty: no ASNs.', ''),
};

export const agent = {
  nodeName: str('TOLLGATE_NODE_NAME', 'Node the agent runs on (set from spec.nodeName by the DaemonSet).', '', { defaultText: '(hostname)' }),
  source: oneOf('TOLLGATE_AGENT_SOURCE', 'Where flows come from: the kernel conntrack table, or the simulated cluster.', 'conntrack', ['conntrack', 'sim'] as const),
  output: oneOf('TOLLGATE_AGENT_OUTPUT', 'Where the agent ships deltas: Kafka (flows.raw.v1), or stdout (one JSON object per line per flow delta; `tollgate agent --output stdout`).', 'kafka', ['kafka', 'stdout'] as const),
  pollIntervalMs: int('TOLLGATE_POLL_INTERVAL_MS', 'Agent poll interval (one full conntrack dump) in ms; DESTROY events are read continuously in between.', 10_000, 100, 3_600_000),
  batchMaxFlows: int('TOLLGATE_BATCH_MAX_FLOWS', 'Flows per Kafka message (raw batch).', 500, 1, 100_000),
  bufferMaxBytes: int('TOLLGATE_AGENT_BUFFER_MAX_BYTES', 'Encoded batches the agent holds until the output acknowledges them. Past 3/4 of it dump deltas wait in the kernel counters for a later poll; when full, DESTROY deltas are dropped and counted lost.', 32 * 1024 * 1024, 64 * 1024),
  flushTimeoutMs: int('TOLLGATE_AGENT_FLUSH_TIMEOUT_MS', 'On stop: how long the agent waits for the output to acknowledge what it holds (after a last dump); what is left is counted lost.', 15_000, 0, 600_000),
  conntrackBin: str('TOLLGATE_CONNTRACK_BIN', 'The conntrack tool (Debian package conntrack) the kernel source runs.', 'conntrack'),
  conntrackNetns: str('TOLLGATE_CONNTRACK_NETNS', 'Read the table of this network namespace (`ip netns` name) instead of the agent\'s own.', ''),
  eventBufferBytes: int('TOLLGATE_CONNTRACK_EVENT_BUFFER_BYTES', 'Netlink receive buffer of the DESTROY event stream (conntrack -E -b). Overruns are counted and followed by a full resync.', 8 * 1024 * 1024, 65_536, 1_073_741_824),
  stateDir: str('TOLLGATE_AGENT_STATE_DIR', 'Directory of the agent\'s acknowledged position (agent_id, batch seq; a replay resumes after the last acknowledged batch). Empty: a restart starts afresh.', ''),
  enableAcct: bool('TOLLGATE_CONNTRACK_ENABLE_ACCT', 'At start, turn net.netfilter.nf_conntrack_acct on if it is off (needs a writable /proc/sys). Off: the agent warns that entries carry no counters.', false),
};

export const enricher = {
  k8sSource: str('TOLLGATE_K8S_SOURCE', 'Kubernetes inventory: `kube` (in-cluster or KUBECONFIG), `file:<path>` (a kubectl `get -o json` List), or `sim` (the simulated cluster).', 'kube'),
  cloud: oneOf('TOLLGATE_CLOUD', "The cluster's cloud (prices). Empty: from the nodes' spec.providerID.", '', ['', 'aws', 'gcp', 'azure'] as const),
  natGateway: bool('TOLLGATE_NAT_GATEWAY', 'Internet traffic leaves through a NAT gateway (adds its processing price).', false),
  directCidrs: list('TOLLGATE_DIRECT_CIDRS', 'Peered/on-prem ranges as `cidr=region/zone`, comma separated (class direct).'),
  privateCidrs: list('TOLLGATE_PRIVATE_CIDRS', 'Extra VPC ranges classed `private` (RFC 1918 and ULA always are).'),
  cloudRanges: list('TOLLGATE_CLOUD_RANGES', 'Provider range files as `aws:<ip-ranges.json>`, `gcp:<cloud.json>`, `azure:<ServiceTags.json>` (class cloud_service for named services; generic ranges such as AWS `AMAZON`/`EC2`, GCP `cloud.json`, Azure `AzureCloud` stay internet).'),
  transactions: bool('TOLLGATE_ENRICHER_TRANSACTIONS', 'Consume-transform-produce in Kafka transactions (exactly once; the sink reads read_committed and commits past the transaction markers). Off: at-least-once sends, then commit (the sink still drops the copies by agent_id and seq).', true),
  podGraceMs: int('TOLLGATE_POD_GRACE_MS', 'How long a deleted pod keeps its IP in the index (late flows).', 300_000, 0),
  kubeconfig: str('KUBECONFIG', 'Kubeconfig for `TOLLGATE_K8S_SOURCE=kube` outside a cluster (a token, a token file or a client certificate; exec plugins and auth providers are not run). Empty: the in-cluster service account, else ~/.kube/config.', ''),
  k8sSyncTimeoutMs: int('TOLLGATE_K8S_SYNC_TIMEOUT_MS', 'How long the enricher waits for the first full list of the Kubernetes API (`kube` source) before it gives up, ms.', 60_000, 1_000, 3_600_000),
  chargebackLabels: list('TOLLGATE_CHARGEBACK_LABELS', 'Pod labels carried on each record\'s local side so costs group by them (e.g. `team,cost-center`); a pod without one takes its namespace\'s.'),
  natExempt: list('TOLLGATE_NAT_GATEWAY_EXEMPT', 'Cloud services reached through a gateway/VPC endpoint rather than the NAT gateway (service names as in the range files, e.g. `S3,DYNAMODB`): their bytes carry no NAT processing.'),
};

export const sink = {
  batchRows: int('TOLLGATE_SINK_BATCH_ROWS', 'Rows per ClickHouse insert (one chunk, one part), at most; below one insert block (1,000,000).', 100_000, 1, 1_000_000),
  flushMs: int('TOLLGATE_SINK_FLUSH_MS', 'Longest wait before a partial batch is inserted, ms.', 1_000, 10, 600_000),
};

export const sim = {
  seed: int('TOLLGATE_SIM_SEED', 'Seed of the simulated cluster (same seed, same flows).', 1),
  days: int('TOLLGATE_SIM_DAYS', 'Simulated days of traffic (the anomaly baseline needs more than 7).', 8, 1, 90),
  scale: int('TOLLGATE_SIM_SCALE', 'Connections per workload per simulated hour, multiplier.', 1, 1, 1000),
  start: str('TOLLGATE_SIM_START', 'ISO time the simulation starts. Empty: TOLLGATE_SIM_DAYS before today 00:00 UTC (so separate processes agree).', ''),
};

export const allSettings = { ...common, ...metrics, ...kafka, ...clickhouse, ...geoip, ...agent, ...enricher, ...sink, ...sim };

/** The README's configuration table (Markdown), generated from this catalogue: `npm run docs:settings`. */
export function settingsTable(): string {
  const rows = Object.values(allSettings).map((s) => `| \`${s.name}\` | ${s.defaultText === '' ? '(empty)' : `\`${s.defaultText}\``} | ${s.doc.replace(/\|/g, '\\|')} |`);
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
