// The message transport every stage talks to. Kafka implements it (libs/kafka); so does
// the in-process transport that `tollgate demo` uses when no brokers are configured.
// Stages never see which one they run on.

export interface OutMessage {
  /** Partitioning key (same key, same partition, in order). */
  key: string;
  value: Buffer;
  headers?: Record<string, string>;
}

export interface InMessage {
  topic: string;
  partition: number;
  /** Kafka offsets are int64; JS numbers are exact up to 2^53, far beyond any real partition. */
  offset: number;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

export interface Producer {
  /** Resolves when every message is acknowledged (acks=all); rejects otherwise. Backpressure: awaiting it is the bound. */
  send(topic: string, messages: OutMessage[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Called with the messages of one partition, in offset order. When the promise resolves, the
 * messages are safe downstream and the consumer commits offset+1 of the last one, or the offset
 * the handler resolved with if that is lower (it holds the later messages until a later call:
 * the sink re-reading an interrupted chunk). When it rejects, nothing is committed and the
 * consumer stops (the caller decides to restart).
 */
export type BatchHandler = (messages: InMessage[]) => Promise<void | number>;

export interface ConsumerOptions {
  groupId: string;
  topics: string[];
  /** Most messages handed to one handler call. */
  maxBatch?: number;
  /** Longest wait for a fuller batch, ms. */
  maxWaitMs?: number;
  /**
   * Called when partitions are assigned, before any message of them is delivered. It may
   * return, per partition, the offset to start from (to skip what an idempotent sink already
   * holds); the consumer then starts at max(committed, returned).
   */
  onAssign?: (topic: string, partitions: number[]) => Promise<Map<number, number> | undefined>;
  /**
   * The input topics are written in Kafka transactions: their commit markers take offsets no record
   * has, so once everything fetched is handled the consumer may commit its fetch position past
   * them (a caught-up group's committed offset then reaches the end offset). Off (the default):
   * it commits only past records it handled.
   */
  transactionalInput?: boolean;
}

export interface Consumer {
  /** Starts consuming in the background; returns once joined. Errors of the handler stop it and surface in `done`. */
  run(handler: BatchHandler): Promise<void>;
  /** Settles when the consumer stops: resolves on close(), rejects with a handler or client error. */
  readonly done: Promise<void>;
  /** Stops fetching, waits for the batch in hand to finish and commit, leaves the group. Idempotent. */
  close(): Promise<void>;
}

/** Messages for one topic, from a consume-transform-produce handler. */
export interface Produced {
  topic: string;
  messages: OutMessage[];
}

/**
 * Consume-transform-produce: called with the messages of one partition, in offset order; resolves
 * with what to produce for them. The output and the consumed offsets (offset+1 of the last one)
 * commit in ONE Kafka transaction, so a read_committed reader sees each output exactly once across
 * crashes, retried sends and rebalances. A rejection aborts the transaction and stops the consumer.
 */
export type TransformHandler = (messages: InMessage[]) => Promise<Produced[]>;

export interface TransactionalOptions extends ConsumerOptions {
  /**
   * Prefix of the transactional ids: one producer per input partition, `<prefix>-<topic>-<partition>`,
   * so whoever takes a partition over fences the previous owner's producer (a zombie's open
   * transaction is aborted, its later writes refused) and a crashed owner's open transaction is
   * aborted at once rather than after the transaction timeout.
   */
  transactionalIdPrefix: string;
  /** Fault injection (crash tests): called after a transaction's sends, before its offsets and commit. */
  afterProduce?: (batch: number) => void | Promise<void>;
}

export interface TransactionalConsumer {
  /** Starts consuming in the background; returns once joined. */
  run(handler: TransformHandler): Promise<void>;
  readonly done: Promise<void>;
  /** Stops fetching, waits for the transaction in hand, leaves the group. Idempotent. */
  close(): Promise<void>;
}

export interface Transport {
  readonly name: string;
  /** Creates the topics (and their .dlq) that do not exist yet. */
  ensureTopics(topics: string[], partitions: number): Promise<void>;
  producer(clientId: string): Promise<Producer>;
  consumer(clientId: string, options: ConsumerOptions): Promise<Consumer>;
  /** A consume-transform-produce consumer whose output and offsets commit in one transaction. Every consumer reads read_committed. */
  transactional(clientId: string, options: TransactionalOptions): Promise<TransactionalConsumer>;
  /** Committed offsets of a group (next offset to read), per partition; for lag and tests. */
  committed(groupId: string, topic: string): Promise<Map<number, number>>;
  /** End offsets per partition. */
  endOffsets(topic: string): Promise<Map<number, number>>;
  close(): Promise<void>;
}
