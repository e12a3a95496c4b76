// Where the agent's ticks come from. The kernel source (a full `conntrack -L` dump every poll
// interval plus the `conntrack -E` DESTROY event stream) implements the same interface; the
// simulated cluster's source replays a scenario's ticks for one node.
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import type { ConntrackTick } from '@tollgate/conntrack';
import type { Scenario } from '@tollgate/sim';

/**
 * A source of conntrack ticks: DESTROY events since the previous tick, then a full dump.
 * Finite for a replay (the agent's `done` resolves after the last tick is shipped); a live
 * source yields one tick per poll interval until the agent stops it (iterator `return()`).
 */
export type ConntrackSource = AsyncIterable<ConntrackTick>;

export interface SimSourceOptions {
  /** Wall-clock pause between ticks (0: as fast as the pipeline takes them). */
  intervalMs?: number;
}

/** The simulated cluster's ticks for `node`, generated lazily. */
export function simSource(scenario: Scenario, node: string, opts: SimSourceOptions = {}): ConntrackSource {
  const ticks = scenario.ticks(node);
  return {
    async *[Symbol.asyncIterator]() {
      let first = true;
      for (const tick of ticks) {
        if (!first) await (opts.intervalMs ? sleep(opts.intervalMs) : yieldToLoop());
        first = false;
        yield tick;
      }
    },
  };
}
