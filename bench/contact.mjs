// The benchmark's floor (bench.ts): one Node process opens an SSH connection to every host at
// once, each host's key checked against known_hosts, runs `true` there and closes. Any tool
// that reaches every host over SSH pays at least this; on a loopback fleet the hosts' sshd
// share the machine's cores with it. Plain JavaScript and ssh2 alone, so nothing of Slipway
// (its start-up, its scripts) is in it.
// usage: node contact.mjs KEY KNOWN_HOSTS ADDR...
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const { Client } = createRequire(import.meta.url)('ssh2');
const [key, knownHosts, ...addrs] = process.argv.slice(2);
if (!key || !knownHosts || !addrs.length) {
  process.stderr.write('usage: node contact.mjs KEY KNOWN_HOSTS ADDR...\n');
  process.exit(2);
}
const privateKey = readFileSync(key);
// `addr type base64` lines, as the test fleet writes them
const hostKeys = new Map(readFileSync(knownHosts, 'utf8').split('\n').map((l) => l.split(' ')).filter((f) => f.length >= 3).map(([addr, , b64]) => [addr, b64]));

const contact = (host) =>
  new Promise((resolve, reject) => {
    const c = new Client();
    c.on('error', (err) => reject(new Error(`${host}: ${err.message}`)));
    c.on('ready', () =>
      c.exec('true', (err, ch) => {
        if (err) return reject(new Error(`${host}: ${err.message}`));
        ch.stderr.resume();
        ch.on('exit', (code) => (code === 0 ? undefined : reject(new Error(`${host}: true exited ${code}`))));
        ch.on('close', () => {
          c.end();
          resolve();
        }).resume();
      }),
    );
    c.connect({ host, port: 22, username: 'root', privateKey, hostVerifier: (k) => hostKeys.get(host) === k.toString('base64') });
  });

try {
  await Promise.all(addrs.map(contact));
} catch (err) {
  process.stderr.write(`contact: ${err.message}\n`);
  process.exit(1);
}
