// Garbage collections a stage asks for at the moments it knows its peak (one definition for all).
import v8 from 'node:v8';
import vm from 'node:vm';

type GcFn = (o: { type: 'minor' | 'major'; flavor?: 'regular' | 'last-resort' }) => void;
const gc = (() => {
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as GcFn | undefined;
  } catch {
    return undefined;
  }
})();

/** A young-generation collection (about 1 ms): garbage that would otherwise wait for V8's budget. */
export const minorGc: (() => void) | undefined = gc ? () => gc({ type: 'minor' }) : undefined;

/**
 * A full collection that also gives memory back (V8's memory-reducing "last resort" flavor: the
 * young generation shrunk to its minimum, free pages released; a plain full collection leaves the
 * old generation's committed pages resident). The agent calls it before its baseline dump and
 * after every dump (idle with the default Kafka client: 126 MB resident before, 89 MB after); the
 * enricher once its inventory has synced (20,000 pods: heap 179 MB committed for 49 MB used after
 * the lists, 292 MB resident; 207 MB after this).
 */
export function releaseMemory(): void {
  gc?.({ type: 'major', flavor: 'last-resort' });
}
