import type { Transport } from './transport.ts';

/** True when `groupId` has committed everything `topic` holds (every partition's end offset). */
export async function caughtUp(t: Transport, groupId: string, topic: string): Promise<boolean> {
  const [end, committed] = await Promise.all([t.endOffsets(topic), t.committed(groupId, topic)]);
  return [...end].every(([p, off]) => off === 0 || (committed.get(p) ?? 0) >= off);
}
