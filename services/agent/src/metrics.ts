// The agent's own metrics (the common per-stage ones are @tollgate/metrics stageMetrics, stage="agent").
import { defineMetrics } from '@tollgate/metrics';

export const agentMetrics = defineMetrics('agent', {
  tollgate_agent_entries_tracked: { type: 'gauge', help: 'Conntrack entries the agent tracks (after the last dump).' },
  tollgate_agent_table_bytes: { type: 'gauge', help: 'Memory of the entry table (typed arrays), bytes.' },
  tollgate_agent_deltas_total: { type: 'counter', help: 'Flow deltas made (records), by origin: a dump or a DESTROY event.', labels: ['origin'] },
  tollgate_agent_delta_bytes_total: { type: 'counter', help: 'Bytes in the flow deltas made, by direction (orig, reply).', labels: ['direction'] },
  tollgate_agent_cycle_seconds: { type: 'histogram', help: 'One poll: full dump, parse and deltas, seconds.', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32] },
  tollgate_agent_cycles_total: { type: 'counter', help: 'Polls, by result (ok, failed).', labels: ['result'] },
  tollgate_agent_events_total: { type: 'counter', help: 'DESTROY events read.' },
  tollgate_agent_events_lost_total: { type: 'counter', help: 'Event overruns (ENOBUFS) and event stream restarts; each is followed by a full resync.' },
  tollgate_agent_parse_errors_total: { type: 'counter', help: 'Lines skipped: malformed entries, or a truncated last line.', labels: ['kind'] },
  tollgate_agent_vanished_total: { type: 'counter', help: 'Entries gone from two dumps in a row without a DESTROY event (growth since their last report unknown).' },
  tollgate_agent_restarted_total: { type: 'counter', help: 'Entries whose counters went backwards (a new connection under the same identity): counted from zero.' },
  tollgate_agent_deferred_total: { type: 'counter', help: 'Dump deltas left in the kernel counters for a later poll because the buffer was 3/4 full.' },
  tollgate_agent_lost_flows_total: { type: 'counter', help: 'Deltas dropped (buffer full for a DESTROY delta, or unacknowledged at stop): never silently.' },
  tollgate_agent_lost_bytes_total: { type: 'counter', help: 'Bytes (orig + reply) of the dropped deltas.' },
  tollgate_agent_buffer_bytes: { type: 'gauge', help: 'Encoded batches waiting for the output to acknowledge them, bytes.' },
  tollgate_agent_buffer_batches: { type: 'gauge', help: 'Batches waiting for the output to acknowledge them.' },
  tollgate_agent_conntrack_acct: { type: 'gauge', help: 'net.netfilter.nf_conntrack_acct as read at start (1 on, 0 off: entries carry no counters).' },
});
