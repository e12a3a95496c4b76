// The agent's core, fed by a source: dump chunks and DESTROY event chunks (conntrack's text, as
// the pipe delivers it) -> scanner -> tracker -> batches of RawFlow deltas -> the ack buffer.
// Nothing per entry is kept but the tracker's compact state; strings are made only for deltas.
import { type Delta, EventType, FlowTracker, LineKind, LineSplitter, rawFlowOf, Scan, scanLine, type TrackerStats } from '@tollgate/conntrack';
import { Family, type RawFlow, type RawFlowBatch, type SchemaRegistry } from '@tollgate/schema';
import { minorGc } from '@tollgate/pipeline';
import type { OutItem } from './buffer.ts';
import { BARRIER } from './kernel.ts';

// A dump streams hundreds of MB through 64 KiB chunks that are garbage once scanned; V8 collects
// them only when its external-memory budget (tens of MB) runs out. A young-generation collection
// every 2 MiB read (about 1 ms) keeps them from adding to the agent's peak RSS (minorGc).

/** The agent's barrier entry (kernel.ts), never traffic. */
function isBarrier(s: Scan): boolean {
  return s.zone === BARRIER.zone && s.protocol === 17 && s.oDport === BARRIER.dport && s.str(s.oSrc0, s.oSrc1) === BARRIER.addr;
}

/** What the engine hands batches to (the AckBuffer, or a plain collector). */
export interface BatchQueue {
  readonly soft: boolean;
  readonly hard: boolean;
  push(item: OutItem): void;
}

export interface EngineOptions {
  cluster: string;
  node: string;
  agentId: string;
  batchMaxFlows: number;
  /** 'avro': Kafka message values; 'json': one JSON object per line per flow. */
  encoding: 'avro' | 'json';
  registry: SchemaRegistry;
  buffer: BatchQueue;
  /** Time of DESTROY lines without a timestamp. */
  now?: () => number;
  /** Batches up to this seq were acknowledged before a restart: they are cut again (deterministic replay) but not sent. */
  skipThroughSeq?: number;
  /** Seq of the first batch (a restarted kernel agent continues its sequence). */
  firstSeq?: number;
  /**
   * Never defer or drop a delta for backpressure (a replay, which paces itself before each tick
   * instead): its batch cuts then depend on the input alone, which a resumed replay relies on.
   */
  alwaysEmit?: boolean;
  /** The DESTROY of barrier entry `n` was read (kernel.ts BARRIER): every earlier event has been. */
  onBarrier?: (n: number) => void;
}

export interface EngineCounts {
  dumpLines: number;
  eventLines: number;
  destroyEvents: number;
  malformed: number;
  truncated: number;
  overruns: number;
  dumpDeltas: number;
  eventDeltas: number;
  origBytes: number;
  replyBytes: number;
  batches: number;
  /** Batches cut again after a restart but not sent (acknowledged before it). */
  skipped: number;
}

export class AgentEngine {
  readonly tracker = new FlowTracker();
  readonly counts: EngineCounts = { dumpLines: 0, eventLines: 0, destroyEvents: 0, malformed: 0, truncated: 0, overruns: 0, dumpDeltas: 0, eventDeltas: 0, origBytes: 0, replyBytes: 0, batches: 0, skipped: 0 };
  private readonly o: EngineOptions;
  private readonly encode: (b: RawFlowBatch) => Buffer;
  private readonly scanD = new Scan();
  private readonly scanE = new Scan();
  private readonly delta: Delta = { origBytes: 0, origPackets: 0, replyBytes: 0, replyPackets: 0, flowStart: 0, final: false };
  private readonly dumpSplit = new LineSplitter((b, a, e) => this.dumpLine(b, a, e));
  private readonly eventSplit = new LineSplitter((b, a, e) => this.eventLine(b, a, e));
  private seq = 0;
  private prevDump: number | undefined;
  private dumpTime = 0;
  private dumping = false;
  private dumpFlows: RawFlow[] = [];
  private eventFlows: RawFlow[] = [];
  private eventMin = Infinity;
  private eventMax = -Infinity;

  constructor(o: EngineOptions) {
    this.o = o;
    this.seq = o.firstSeq ?? 0;
    const codec = o.registry.codec<RawFlowBatch>(Family.raw);
    this.encode = (b) => codec.encode(b);
  }

  get hasBaseline(): boolean {
    return this.tracker.hasBaseline;
  }
  get inDump(): boolean {
    return this.dumping;
  }
  stats(): TrackerStats {
    return this.tracker.stats();
  }

  beginDump(time: number): void {
    this.flushEvents();
    this.tracker.beginDump();
    this.dumpTime = time;
    this.dumping = true;
  }

  dumpChunk(chunk: Buffer): void {
    this.dumpSplit.push(chunk);
    this.consumed(chunk.length);
  }

  private sinceGc = 0;
  /** Chunks read are garbage at once: a young-generation collection every 2 MiB returns them (peak RSS). */
  private consumed(n: number): void {
    this.sinceGc += n;
    if (this.sinceGc >= 2 << 20) {
      this.sinceGc = 0;
      minorGc?.();
    }
  }

  /** The dump completed: forget what two dumps missed, ship the partial batch. */
  endDump(): void {
    if (this.dumpSplit.end() > 0) this.counts.truncated++;
    this.tracker.endDump();
    this.dumping = false;
    this.flushDump();
    this.prevDump = this.dumpTime;
  }

  /** The dump failed midway: nothing is forgotten; the deltas it made are real and shipped. */
  abortDump(): void {
    if (this.dumpSplit.end() > 0) this.counts.truncated++;
    this.tracker.abortDump();
    this.dumping = false;
    this.flushDump();
  }

  eventChunk(chunk: Buffer): void {
    this.eventSplit.push(chunk);
    this.consumed(chunk.length);
  }

  /** The event stream ended (restart): a cut last line is counted. */
  endEvents(): void {
    if (this.eventSplit.end() > 0) this.counts.truncated++;
  }

  overrun(n = 1): void {
    this.counts.overruns += n;
  }

  /** Ships the DESTROY deltas gathered so far (done at each dump start and at stop). */
  flushEvents(): void {
    if (this.eventFlows.length === 0) return;
    const start = Math.min(this.prevDump ?? this.eventMin, this.eventMin);
    this.enqueue(this.eventFlows, start, Math.max(this.eventMax, start));
    this.eventFlows = [];
    this.eventMin = Infinity;
    this.eventMax = -Infinity;
  }

  private flushDump(): void {
    if (this.dumpFlows.length === 0) return;
    this.enqueue(this.dumpFlows, this.prevDump ?? this.dumpTime, this.dumpTime);
    this.dumpFlows = [];
  }

  private dumpLine(buf: Buffer, a: number, e: number): void {
    const s = this.scanD;
    const k = scanLine(buf, a, e, s);
    if (k !== LineKind.Entry) {
      if (k === LineKind.Malformed) this.counts.malformed++;
      return;
    }
    if (isBarrier(s)) return;
    this.counts.dumpLines++;
    if (this.tracker.dump(s, this.dumpTime, this.o.alwaysEmit === true || !this.o.buffer.soft, this.delta)) {
      this.counts.dumpDeltas++;
      this.add(this.dumpFlows, rawFlowOf(s, this.delta));
      if (this.dumpFlows.length >= this.o.batchMaxFlows) this.flushDump();
    }
  }

  private eventLine(buf: Buffer, a: number, e: number): void {
    const s = this.scanE;
    const k = scanLine(buf, a, e, s);
    if (k !== LineKind.Entry) {
      if (k === LineKind.Malformed) this.counts.malformed++;
      return;
    }
    if (isBarrier(s)) {
      if (s.event === EventType.Destroy) this.o.onBarrier?.(s.oSport);
      return; // the agent's own entry, not traffic
    }
    this.counts.eventLines++;
    if (s.event !== EventType.Destroy) return;
    this.counts.destroyEvents++;
    const time = s.time >= 0 ? s.time : (this.o.now ?? Date.now)();
    if (this.tracker.destroy(s, time, this.o.alwaysEmit === true || !this.o.buffer.hard, this.delta)) {
      this.counts.eventDeltas++;
      this.add(this.eventFlows, rawFlowOf(s, this.delta));
      if (time < this.eventMin) this.eventMin = time;
      if (time > this.eventMax) this.eventMax = time;
      if (this.eventFlows.length >= this.o.batchMaxFlows) this.flushEvents();
    }
  }

  private add(list: RawFlow[], f: RawFlow): void {
    list.push(f);
    this.counts.origBytes += f.orig_bytes;
    this.counts.replyBytes += f.reply_bytes;
  }

  private enqueue(flows: RawFlow[], windowStart: number, windowEnd: number): void {
    const o = this.o;
    if (o.skipThroughSeq !== undefined && this.seq <= o.skipThroughSeq) {
      this.seq++;
      this.counts.skipped++;
      return;
    }
    let ob = 0;
    let rb = 0;
    for (const f of flows) {
      ob += f.orig_bytes;
      rb += f.reply_bytes;
    }
    let payload: Buffer | string;
    if (o.encoding === 'avro') {
      payload = this.encode({ cluster: o.cluster, node: o.node, agent_id: o.agentId, seq: this.seq, window_start: windowStart, window_end: windowEnd, flows });
    } else {
      const tail = `,"node":${JSON.stringify(o.node)},"cluster":${JSON.stringify(o.cluster)},"window_start":${windowStart},"window_end":${windowEnd},"agent_id":${JSON.stringify(o.agentId)},"seq":${this.seq}}\n`;
      payload = flows.map((f) => JSON.stringify(f).slice(0, -1) + tail).join('');
    }
    this.seq++;
    this.counts.batches++;
    const item: OutItem = { payload, flows: flows.length, origBytes: ob, replyBytes: rb, seq: this.seq - 1 };
    o.buffer.push(item);
  }
}
