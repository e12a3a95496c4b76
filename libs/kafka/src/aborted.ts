// Records of aborted transactions, dropped from a read_committed fetch response.
//
// A read_committed fetch returns data up to the last stable offset, so every transaction it
// covers is decided; the broker lists the aborted ones overlapping the fetched range as
// (producerId, firstOffset). A batch of producer P from such a firstOffset on belongs to the
// aborted transaction until P's abort marker, wherever that marker is: in this response, or past
// its end (the response stopped at its byte limit), or in no response at all yet. @platformatic/kafka
// 2.12.1 drops an aborted range only when its marker is in the same response, and keeps one range
// per producer, so a read_committed reader saw aborted records (the enricher's exactly-once test
// read 5 duplicates in one CI run of three).
//
// The batch itself stays, emptied: the client's stream tracks its next fetch offset from the last
// batch of a response, so removing one would fetch the same aborted records again.

/** Bits of a record batch's attributes. */
const IS_TRANSACTIONAL = 1 << 4;
const IS_CONTROL = 1 << 5;

/** The parts of a record batch this filter reads (the client's RecordsBatch). */
export interface BatchLike {
  firstOffset: bigint;
  attributes: number;
  producerId: bigint;
  records: Array<{ key?: Buffer | null }>;
}

export interface FetchResponseLike {
  responses: Array<{
    partitions: Array<{
      abortedTransactions?: Array<{ producerId: bigint; firstOffset: bigint }> | null;
      records?: BatchLike[] | null;
    }>;
  }>;
}

/** An abort marker: a control batch whose record key is (version, type 0 = ABORT). */
function isAbortMarker(b: BatchLike): boolean {
  const key = b.records[0]?.key;
  return (b.attributes & IS_CONTROL) !== 0 && key != null && key.length >= 4 && key.readInt16BE(2) === 0;
}

/** Empties, in place, every batch of an aborted transaction; returns how many records it dropped. */
export function dropAbortedRecords(response: FetchResponseLike): number {
  let dropped = 0;
  for (const topic of response.responses) {
    for (const partition of topic.partitions) {
      const aborted = [...(partition.abortedTransactions ?? [])].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
      if (aborted.length === 0 || !partition.records) continue;
      const open = new Set<bigint>();
      let next = 0;
      for (const batch of partition.records) {
        while (next < aborted.length && aborted[next]!.firstOffset <= batch.firstOffset) open.add(aborted[next++]!.producerId);
        if (!open.has(batch.producerId)) continue;
        if ((batch.attributes & IS_CONTROL) !== 0) {
          // The marker ends P's aborted transaction (a commit marker cannot: the broker listed it as aborted).
          if (isAbortMarker(batch)) open.delete(batch.producerId);
          continue;
        }
        if ((batch.attributes & IS_TRANSACTIONAL) !== 0 && batch.records.length > 0) {
          dropped += batch.records.length;
          batch.records = [];
        }
      }
    }
  }
  return dropped;
}
