// Test traffic inside network namespaces (run with `ip netns exec <ns> node traffic.mjs ...`).
//   server <respBytes> <udpBytes>      TCP :8080 and :443 (v4+v6): read to EOF, answer respBytes, end; UDP :5353 answers udpBytes per datagram
//   tcp <host> <port> <req> <n>        n sequential connections: send req bytes, half-close, read the answer; prints {"ports":[...],"recv":N}
//   udp <host> <port> <size> <n>       n datagrams of size bytes from one socket, waits for n answers; prints {"port":P,"recv":N}
//   stream <host> <port>               one connection; each stdin line "<n>" sends n bytes and prints "ok <port>" once written
import net from 'node:net';
import dgram from 'node:dgram';
import readline from 'node:readline';

const [mode, ...a] = process.argv.slice(2);
if (mode === 'server') {
  const resp = Buffer.alloc(Number(a[0]), 0x61);
  const udpResp = Buffer.alloc(Number(a[1]), 0x65);
  for (const port of [8080, 443]) {
    net.createServer((s) => {
      s.on('data', () => {});
      s.on('end', () => s.end(resp));
      s.on('error', () => {});
    }).listen({ port, host: '::', ipv6Only: false });
  }
  for (const type of ['udp4', 'udp6']) {
    const u = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
    u.on('message', (_m, r) => u.send(udpResp, r.port, r.address));
    u.bind(5353);
  }
  console.log('ready');
} else if (mode === 'tcp') {
  const [host, port, req, n] = [a[0], Number(a[1]), Number(a[2]), Number(a[3])];
  const ports = [];
  let recv = 0;
  for (let i = 0; i < n; i++) {
    await new Promise((resolve, reject) => {
      const s = net.connect({ host, port }, () => {
        ports.push(s.localPort);
        s.end(Buffer.alloc(req, 0x62));
      });
      s.on('data', (d) => (recv += d.length));
      s.on('close', resolve);
      s.on('error', reject);
    });
  }
  console.log(JSON.stringify({ ports, recv }));
} else if (mode === 'udp') {
  const [host, port, size, n] = [a[0], Number(a[1]), Number(a[2]), Number(a[3])];
  const u = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  let got = 0;
  let recv = 0;
  u.on('message', (m) => {
    recv += m.length;
    if (++got === n) {
      console.log(JSON.stringify({ port: u.address().port, recv }));
      u.close();
    }
  });
  setTimeout(() => (console.error(`udp: ${got}/${n} answers`), process.exit(1)), 5000).unref();
  u.bind(0, () => {
    for (let i = 0; i < n; i++) u.send(Buffer.alloc(size, 0x63), port, host);
  });
} else if (mode === 'stream') {
  const [host, port] = [a[0], Number(a[1])];
  const s = net.connect({ host, port });
  s.on('error', (e) => (console.error(e.message), process.exit(1)));
  s.on('connect', () => {
    const rl = readline.createInterface({ input: process.stdin });
    rl.on('line', (l) => {
      if (l === 'end') return s.end();
      s.write(Buffer.alloc(Number(l), 0x64), () => console.log(`ok ${s.localPort}`));
    });
    rl.on('close', () => s.end());
  });
}
