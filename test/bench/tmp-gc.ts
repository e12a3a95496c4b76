import v8 from 'node:v8';
import vm from 'node:vm';
import { createReadStream, readFileSync } from 'node:fs';
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as (o?: { type: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;
const mode = process.argv[2];
let n = 0;
let since = 0;
let calls = 0;
const t = performance.now();
for await (const c of createReadStream('/tmp/tg-d2.txt', { highWaterMark: 65536 })) {
  n += (c as Buffer).length;
  since += (c as Buffer).length;
  if (mode !== 'none' && since > 8 << 20) {
    since = 0;
    calls++;
    gc({ type: mode as 'minor' | 'major' });
  }
}
const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1];
console.log(mode, n, 'ms', Math.round(performance.now() - t), 'hwm MB', Number(hwm) / 1024 | 0, 'gcs', calls);
