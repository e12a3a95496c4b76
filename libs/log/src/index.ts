// One root pino logger per process; one child per component (`component` field).
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export function createLogger(level: LevelWithSilent = 'info', destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      // Passwords and tokens never reach a log line, whatever object is logged.
      redact: { paths: ['password', '*.password', 'token', '*.token', 'authorization', '*.authorization'], censor: '***' },
    },
    destination as pino.DestinationStream,
  );
}

export function componentLogger(root: Logger, component: string): Logger {
  return root.child({ component });
}
