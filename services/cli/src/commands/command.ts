import type { OptionSpec, Parsed } from '../args.ts';
import type { Runtime } from '../runtime.ts';

export interface Command {
  name: string;
  options: OptionSpec[];
  details?: string;
  /** Returns the exit code. Throws ConfigError/UsageError for bad input (printed as one line). */
  run(rt: Runtime, args: Parsed): Promise<number>;
}
