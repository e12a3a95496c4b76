import { loadSettings, settings } from '@tollgate/config';
import { openStore } from '@tollgate/clickhouse';
import type { Command } from './command.ts';

export const migrateCommand: Command = {
  name: 'migrate',
  options: [],
  async run(rt) {
    const store = await openStore(loadSettings(settings.clickhouse, rt.env), rt.logger.child({ component: 'clickhouse' }));
    try {
      const applied = await store.migrate();
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'up to date\n');
    } finally {
      await store.close();
    }
    return 0;
  },
};
