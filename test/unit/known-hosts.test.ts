import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import { defaultSsh } from '../../src/config/resolve.js';
import { HostSession } from '../../src/deploy/connect/ssh.js';
import {
  fingerprint,
  hostKeyAlgorithms,
  keysFor,
  parseKnownHosts,
  verifyHostKey,
  type KnownHostsFile,
} from '../../src/deploy/connect/known-hosts.js';

interface TestKey {
  /** `ssh-ed25519 AAAA...` — the part of a .pub file that goes into known_hosts. */
  line: string;
  b64: string;
  blob: Buffer;
  pubPath: string;
}

let dir: string;
let A: TestKey;
let B: TestKey;
let C: TestKey;
let R: TestKey;
let R2: TestKey;
let E: TestKey;

function makeKey(name: string, keyType = 'ed25519'): TestKey {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', keyType, ...(keyType === 'rsa' ? ['-b', '2048', '-m', 'PEM'] : []), '-N', '', '-C', name, '-f', path]);
  const [type, b64] = readFileSync(`${path}.pub`, 'utf8').trim().split(' ');
  assert.ok(type && b64);
  return { line: `${type} ${b64}`, b64, blob: Buffer.from(b64, 'base64'), pubPath: `${path}.pub` };
}

function kh(...lines: string[]): KnownHostsFile {
  return parseKnownHosts(lines.join('\n') + '\n');
}

function assertOk(file: KnownHostsFile, host: string, port: number, key: TestKey): void {
  assert.deepEqual(verifyHostKey(file, host, port, key.blob), { ok: true }, `${host}:${port}`);
}

function assertReason(
  file: KnownHostsFile,
  host: string,
  port: number,
  key: TestKey,
  reason: 'unknown' | 'changed' | 'revoked' | 'other-type' | 'cert-authority',
): string {
  const v = verifyHostKey(file, host, port, key.blob);
  assert.equal(v.ok, false, `${host}:${port} should not verify`);
  assert.ok(!v.ok);
  assert.equal(v.reason, reason, `${host}:${port}: ${v.message}`);
  return v.message;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'known-hosts-test-'));
  A = makeKey('a');
  B = makeKey('b');
  C = makeKey('c');
  R = makeKey('r', 'rsa');
  R2 = makeKey('r2', 'rsa');
  E = makeKey('e', 'ecdsa');
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('fingerprint', () => {
  test('matches ssh-keygen -l', () => {
    const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', A.pubPath], { encoding: 'utf8' });
    const expected = out.split(' ')[1];
    assert.equal(fingerprint(A.blob), expected);
    assert.match(fingerprint(A.blob), /^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  test('is unpadded base64 of sha256(blob)', () => {
    const blob = Buffer.from('anything');
    const digest = createHash('sha256').update(blob).digest('base64');
    assert.equal(fingerprint(blob), 'SHA256:' + digest.replace(/=+$/, ''));
    assert.ok(!fingerprint(blob).endsWith('='));
  });
});

describe('parseKnownHosts', () => {
  test('records key type, decoded blob and 1-based line number', () => {
    const file = kh('# header', '', `web1 ${A.line} comment here`);
    const keys = keysFor(file, 'web1', 22);
    assert.equal(keys.length, 1);
    assert.equal(keys[0]?.keyType, 'ssh-ed25519');
    assert.ok(keys[0]?.key.equals(A.blob));
    assert.equal(keys[0]?.line, 3);
    assert.equal(keys[0]?.marker, undefined);
  });

  test('skips comments, blank and malformed lines without throwing', () => {
    const text = [
      '# a comment',
      '   # an indented comment',
      '',
      '   \t  ',
      'web1', // host only
      'web1 ssh-ed25519', // no key
      'web1 ssh-ed25519 !!!not-base64!!!',
      `web1 ssh-rsa ${A.b64}`, // type field disagrees with the blob
      'web1 ssh-ed25519 AAAA', // blob truncated
      `@bogus web1 ${A.line}`, // unknown marker
      '@revoked', // marker with nothing after it
      `|1|notvalid|alsonot ${A.line}`, // malformed hashed host
      `|2|${randomBytes(20).toString('base64')}|${randomBytes(20).toString('base64')} ${A.line}`,
      'web1 1024 65537 12345678901234567890', // legacy SSH1 RSA format
      '\u0000\u0001 binary garbage \uffff',
      `web1\t${A.line.replace(' ', '\t')}\tsep by tabs`, // valid: tabs are separators
      `web2 ${A.line}\r`, // valid: CRLF
      `  web3 ${A.line}`, // valid: leading whitespace
    ].join('\r\n');
    const file = parseKnownHosts(text);
    assert.equal(file.entries.length, 3);
    assert.deepEqual(
      keysFor(file, 'web1', 22).map((k) => k.line),
      [16],
    );
    assertOk(file, 'web2', 22, A);
    assertOk(file, 'web3', 22, A);
  });

  test('never throws on random input', () => {
    const alphabet = ' \t\n\r#@|!*?,[]:abcAB01+/=';
    for (let i = 0; i < 500; i++) {
      const bytes = randomBytes(200);
      const text = Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
      const file = parseKnownHosts(text);
      assert.doesNotThrow(() => verifyHostKey(file, 'a', 22, A.blob));
    }
    assert.doesNotThrow(() => parseKnownHosts(randomBytes(4096).toString('latin1')));
    assert.equal(parseKnownHosts('').entries.length, 0);
  });
});

describe('host matching', () => {
  test('plain host on port 22', () => {
    const file = kh(`web1.example.com ${A.line}`, `10.0.0.5 ${B.line}`);
    assertOk(file, 'web1.example.com', 22, A);
    assertOk(file, '10.0.0.5', 22, B);
    assertReason(file, 'web2.example.com', 22, A, 'unknown');
    // A pattern must match the whole name, not a prefix or suffix.
    assertReason(file, 'web1.example.co', 22, A, 'unknown');
    assertReason(file, 'xweb1.example.com', 22, A, 'unknown');
  });

  test('bare host does not match a non-default port', () => {
    const file = kh(`web1 ${A.line}`);
    assertReason(file, 'web1', 2222, A, 'unknown');
  });

  test('[host]:port matches only that port', () => {
    const file = kh(`[web1]:2222 ${A.line}`, `[10.0.0.5]:2200 ${B.line}`);
    assertOk(file, 'web1', 2222, A);
    assertOk(file, '10.0.0.5', 2200, B);
    assertReason(file, 'web1', 22, A, 'unknown');
    assertReason(file, 'web1', 2223, A, 'unknown');
    assertReason(file, '10.0.0.5', 22, B, 'unknown');
  });

  test('[host]:22 matches port 22', () => {
    const file = kh(`[web1]:22 ${A.line}`);
    assertOk(file, 'web1', 22, A);
    assertReason(file, 'web1', 2222, A, 'unknown');
  });

  test('IPv6 addresses in brackets', () => {
    const file = kh(`::1 ${A.line}`, `[::1]:2222 ${B.line}`);
    assertOk(file, '::1', 22, A);
    assertOk(file, '::1', 2222, B);
    assertReason(file, '::1', 2222, A, 'changed');
  });

  test('* and ? wildcards', () => {
    const file = kh(`*.example.com ${A.line}`, `db?.internal ${B.line}`, `[*.example.org]:2222 ${C.line}`);
    assertOk(file, 'web1.example.com', 22, A);
    assertOk(file, 'a.b.example.com', 22, A);
    assertReason(file, 'example.com', 22, A, 'unknown');
    assertOk(file, 'db1.internal', 22, B);
    assertOk(file, 'dbx.internal', 22, B);
    assertReason(file, 'db.internal', 22, B, 'unknown');
    assertReason(file, 'db12.internal', 22, B, 'unknown');
    assertOk(file, 'www.example.org', 2222, C);
    assertReason(file, 'www.example.org', 22, C, 'unknown');
    // `*` also matches the `[host]:port` spelling, so it covers every port,
    // as it does in OpenSSH (ssh-keygen -F '[x]:2222' finds a `*` line).
    const any = kh(`* ${A.line}`);
    assertOk(any, 'whatever', 22, A);
    assertOk(any, 'whatever', 2222, A);
    // `*.example.com` cannot match `[web.example.com]:2222` (trailing `]:2222`).
    assertReason(file, 'web.example.com', 2222, A, 'unknown');
  });

  test('wildcard backtracking', () => {
    const file = kh(`*a*b?c ${A.line}`);
    assertOk(file, 'xxaaybbzc', 22, A);
    assertOk(file, 'abxc', 22, A);
    assertReason(file, 'abc', 22, A, 'unknown');
    assertReason(file, 'xxaaybbzcd', 22, A, 'unknown');
  });

  test('comma-separated lists', () => {
    const file = kh(`web1,web2,10.0.0.7,[web3]:2222 ${A.line}`);
    assertOk(file, 'web1', 22, A);
    assertOk(file, 'web2', 22, A);
    assertOk(file, '10.0.0.7', 22, A);
    assertOk(file, 'web3', 2222, A);
    assertReason(file, 'web3', 22, A, 'unknown');
    assertReason(file, 'web4', 22, A, 'unknown');
  });

  test('negation excludes the line', () => {
    const file = kh(`*.example.com,!bad.example.com ${A.line}`, `!bad.example.com,*.example.com ${B.line}`);
    assert.equal(keysFor(file, 'good.example.com', 22).length, 2);
    assert.equal(keysFor(file, 'bad.example.com', 22).length, 0);
    assertReason(file, 'bad.example.com', 22, A, 'unknown');
    assertOk(file, 'good.example.com', 22, A);
    // A negated pattern on its own matches nothing, not everything else.
    const onlyNeg = kh(`!web1 ${A.line}`);
    assertReason(onlyNeg, 'web2', 22, A, 'unknown');
    assertReason(onlyNeg, 'web1', 22, A, 'unknown');
    // Negation with wildcards.
    const negGlob = kh(`web*,!web?-old ${A.line}`);
    assertOk(negGlob, 'web1', 22, A);
    assertReason(negGlob, 'web1-old', 22, A, 'unknown');
  });

  test('matching is case-insensitive in both pattern and host', () => {
    const file = kh(`WEB1.Example.COM,*.CORP ${A.line}`, `[Db.Internal]:2222 ${B.line}`);
    assertOk(file, 'web1.example.com', 22, A);
    assertOk(file, 'Web1.EXAMPLE.com', 22, A);
    assertOk(file, 'Mail.corp', 22, A);
    assertOk(file, 'DB.INTERNAL', 2222, B);
  });

  test('agrees with ssh-keygen -F on which hosts a file covers', () => {
    const lines = [
      `web1,web2 ${A.line}`,
      `*.example.com,!bad.example.com ${A.line}`,
      `[db.example.com]:2222 ${B.line}`,
      `app?.test ${C.line}`,
      `[*.port.test]:2200 ${C.line}`,
    ];
    const path = join(dir, 'oracle_known_hosts');
    writeFileSync(path, lines.join('\n') + '\n');
    const file = parseKnownHosts(readFileSync(path, 'utf8'));
    const cases: [string, number][] = [
      ['web1', 22],
      ['web3', 22],
      ['web1', 2222],
      ['a.example.com', 22],
      ['bad.example.com', 22],
      ['db.example.com', 2222],
      ['db.example.com', 22],
      ['a.example.com', 2222],
      ['app1.test', 22],
      ['app12.test', 22],
      ['x.port.test', 2200],
      ['x.port.test', 22],
    ];
    for (const [host, port] of cases) {
      const name = port === 22 ? host : `[${host}]:${port}`;
      const r = spawnSync('ssh-keygen', ['-F', name, '-f', path], { encoding: 'utf8' });
      const openssh = r.status === 0;
      assert.equal(keysFor(file, host, port).length > 0, openssh, `${name}: ssh-keygen -F says ${openssh}`);
    }
  });
});

describe('hashed hosts', () => {
  let hashed: KnownHostsFile;
  let hashedText: string;

  before(() => {
    const path = join(dir, 'hashed_known_hosts');
    writeFileSync(
      path,
      [`web1.example.com ${A.line}`, `[web2.example.com]:2222 ${B.line}`, `10.1.2.3 ${C.line}`].join('\n') + '\n',
    );
    execFileSync('ssh-keygen', ['-q', '-H', '-f', path], { stdio: 'ignore' });
    hashedText = readFileSync(path, 'utf8');
    hashed = parseKnownHosts(hashedText);
  });

  test('ssh-keygen really hashed the file', () => {
    const lines = hashedText.trim().split('\n');
    assert.equal(lines.length, 3);
    for (const line of lines) assert.match(line, /^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 /);
    assert.ok(!hashedText.includes('example.com'));
    assert.equal(hashed.entries.length, 3);
  });

  test('port 22 entry', () => {
    assertOk(hashed, 'web1.example.com', 22, A);
    assertOk(hashed, '10.1.2.3', 22, C);
    assertReason(hashed, 'web1.example.com', 22, B, 'changed');
    assertReason(hashed, 'web1.example.com', 2222, A, 'unknown');
    assertReason(hashed, 'web9.example.com', 22, A, 'unknown');
  });

  test('non-22 port entry hashes [host]:port', () => {
    assertOk(hashed, 'web2.example.com', 2222, B);
    assertReason(hashed, 'web2.example.com', 22, B, 'unknown');
    assertReason(hashed, 'web2.example.com', 2200, B, 'unknown');
    assertReason(hashed, 'web2.example.com', 2222, A, 'changed');
  });

  test('hashed lookup is case-insensitive on the host', () => {
    assertOk(hashed, 'WEB1.Example.Com', 22, A);
    assertOk(hashed, 'Web2.EXAMPLE.com', 2222, B);
  });

  test('keysFor reports the hashed line', () => {
    const keys = keysFor(hashed, 'web2.example.com', 2222);
    assert.equal(keys.length, 1);
    assert.equal(keys[0]?.line, 2);
    assert.ok(keys[0]?.key.equals(B.blob));
  });
});

describe('verdicts', () => {
  test('unknown host: message names the host and says what to do', () => {
    const file = kh(`web1 ${A.line}`);
    const v = verifyHostKey(file, '127.0.1.3', 22, A.blob, 'web3');
    assert.equal(v.ok, false);
    assert.ok(!v.ok);
    assert.equal(v.reason, 'unknown');
    assert.match(v.message, /^no known host key for web3 \(127\.0\.1\.3:22\)/);
    assert.ok(v.message.includes('known_hosts'));
    assert.ok(v.message.includes('ssh-keyscan'));
    assert.ok(v.message.includes(fingerprint(A.blob)));
  });

  test('unknown host without a label uses host:port', () => {
    const v = verifyHostKey(kh(), '127.0.1.3', 2222, A.blob);
    assert.ok(!v.ok);
    assert.equal(v.reason, 'unknown');
    assert.match(v.message, /no known host key for 127\.0\.1\.3:2222;/);
  });

  test('changed key: message carries the presented fingerprint and the stale line', () => {
    const file = kh('# first', `web3,127.0.1.3 ${A.line}`);
    const v = verifyHostKey(file, '127.0.1.3', 22, B.blob, 'web3');
    assert.ok(!v.ok);
    assert.equal(v.reason, 'changed');
    assert.ok(v.message.includes('web3 (127.0.1.3:22)'));
    assert.ok(v.message.includes(fingerprint(B.blob)));
    assert.ok(!v.message.includes(fingerprint(A.blob)));
    assert.ok(v.message.includes('line 2'));
    assert.match(v.message, /man-in-the-middle/);
  });

  test('any one matching line is enough', () => {
    const file = kh(`web1 ${A.line}`, `web1 ${B.line}`);
    assertOk(file, 'web1', 22, A);
    assertOk(file, 'web1', 22, B);
    assertReason(file, 'web1', 22, C, 'changed');
  });

  test('key equality is exact on the blob', () => {
    const file = kh(`web1 ${A.line}`);
    const tampered = Buffer.from(A.blob);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    assert.equal(verifyHostKey(file, 'web1', 22, tampered).ok, false);
    assert.equal(verifyHostKey(file, 'web1', 22, Buffer.concat([A.blob, Buffer.from([0])])).ok, false);
    assert.equal(verifyHostKey(file, 'web1', 22, Buffer.alloc(0)).ok, false);
  });

  test('revoked key is refused even when another line trusts it', () => {
    const file = kh(`web1 ${A.line}`, `@revoked web1 ${A.line}`);
    const msg = assertReason(file, 'web1', 22, A, 'revoked');
    assert.ok(msg.includes(fingerprint(A.blob)));
    assert.ok(msg.includes('line 2'));
    // Order of lines does not matter.
    assertReason(kh(`@revoked web1 ${A.line}`, `web1 ${A.line}`), 'web1', 22, A, 'revoked');
  });

  test('revocation via wildcard applies to every host', () => {
    const file = kh(`@revoked * ${A.line}`, `@revoked [*]:* ${A.line}`, `web1,[web1]:2222 ${A.line}`);
    assertReason(file, 'web1', 22, A, 'revoked');
    assertReason(file, 'web1', 2222, A, 'revoked');
    assertReason(file, 'elsewhere', 22, A, 'revoked');
  });

  test('a revocation names the file and line', () => {
    const file = parseKnownHosts(`web1 ${A.line}\n@revoked web1 ${A.line}\n`, '/root/.ssh/known_hosts');
    assert.match(assertReason(file, 'web1', 22, A, 'revoked'), /known_hosts line 2 in \/root\/\.ssh\/known_hosts: ssh-ed25519 key SHA256:/);
  });

  test('a revoked line for a different key does not block the good key', () => {
    const file = kh(`web1 ${A.line}`, `@revoked web1 ${B.line}`);
    assertOk(file, 'web1', 22, A);
    assertReason(file, 'web1', 22, B, 'revoked');
  });

  test('a revoked line alone does not make the host known', () => {
    const file = kh(`@revoked web1 ${B.line}`);
    assertReason(file, 'web1', 22, A, 'unknown');
  });

  test('@cert-authority lines are refused clearly, naming the file and line; plain lines still decide', () => {
    const file = parseKnownHosts(`# CA\n@cert-authority *.example.com ${A.line}\n`, '/etc/ssh/ssh_known_hosts');
    const keys = keysFor(file, 'web1.example.com', 22);
    assert.equal(keys.length, 1);
    assert.equal(keys[0]?.marker, '@cert-authority');
    const refused = assertReason(file, 'web1.example.com', 22, A, 'cert-authority');
    assert.match(refused, /^known_hosts line 2 in \/etc\/ssh\/ssh_known_hosts: @cert-authority is not supported; list the host's key for web1\.example\.com:22 /);

    const withPlain = kh(`@cert-authority *.example.com ${A.line}`, `web1.example.com ${B.line}`);
    assertOk(withPlain, 'web1.example.com', 22, B);
    const msg = assertReason(withPlain, 'web1.example.com', 22, A, 'changed');
    assert.ok(msg.includes('line 2'));
    assert.ok(!msg.includes('line 1'));
  });
});

describe('a server offering a key type known_hosts has no line for', () => {
  test('is told apart from a changed key: the message says which types each side has, and where', () => {
    const plain = verifyHostKey(parseKnownHosts(`127.0.1.3 ${A.line}\n`, '/root/.ssh/known_hosts'), '127.0.1.3', 22, R.blob, 'web3');
    assert.ok(!plain.ok);
    assert.equal(plain.reason, 'other-type');
    assert.match(plain.message, /^web3 \(127\.0\.1\.3:22\) offers an ssh-rsa key, but known_hosts has only an ssh-ed25519 key for it \(known_hosts line 1 in \/root\/\.ssh\/known_hosts\): add its ssh-rsa key \(SHA256:\S+, once verified out of band\) or configure the host key algorithm$/);
    assert.doesNotMatch(plain.message, /changed|man-in-the-middle/);
  });

  test('a key of the same type that differs is still a changed key', () => {
    const file = parseKnownHosts(`web1 ${R2.line}\nweb1 ${A.line}\n`, '/k');
    const msg = assertReason(file, 'web1', 22, R, 'changed');
    assert.match(msg, /known_hosts line 1 \(ssh-rsa\) in \/k/);
    assert.match(msg, /man-in-the-middle/);
  });

  test('hostKeyAlgorithms asks only for the types known_hosts can check for that host', () => {
    const file = kh(`web1 ${A.line}`, `web2 ${R.line}`, `web3 ${A.line}`, `web3 ${R.line}`, `@revoked web4 ${A.line}`, `@cert-authority web5 ${A.line}`);
    assert.deepEqual(hostKeyAlgorithms(file, 'web1', 22), ['ssh-ed25519']);
    assert.deepEqual(hostKeyAlgorithms(file, 'web2', 22), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    assert.deepEqual(hostKeyAlgorithms(file, 'web3', 22), ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    assert.equal(hostKeyAlgorithms(file, 'web4', 22), undefined, 'a revoked key is never asked for');
    assert.equal(hostKeyAlgorithms(file, 'web5', 22), undefined);
    assert.equal(hostKeyAlgorithms(file, 'unknown', 22), undefined);
  });

  describe('against a real SSH server (ssh2) with an ed25519 and an RSA host key', () => {
    let server: ssh2.Server;
    let port = 0;
    const clientKey = () => readFileSync(join(dir, 'a'));
    before(async () => {
      server = new ssh2.Server({ hostKeys: [readFileSync(join(dir, 'a')), readFileSync(join(dir, 'r'))] }, (client) => {
        client.on('authentication', (ctx) => ctx.accept());
        client.on('ready', () => client.end());
        client.on('error', () => undefined);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      port = (server.address() as AddressInfo).port;
    });
    after(() => {
      server.close();
    });
    const open = (known: string, path: string) =>
      HostSession.open({ name: 'web3', address: '127.0.0.1', port, user: 'root' }, { ssh: { ...defaultSsh(), connectTimeout: 5 }, knownHosts: parseKnownHosts(known, path), privateKey: clientKey() });

    test('a host known only by its RSA key is asked for that key and connects (ssh2 alone would ask for ed25519 first)', async () => {
      const session = await open(`[127.0.0.1]:${port} ${R.line}\n`, '/k');
      session.close();
    });

    test('a host known only by a key type the server does not have is refused saying so, naming the file and line', async () => {
      await assert.rejects(open(`# web3\n[127.0.0.1]:${port} ${R2.line.replace('ssh-rsa', 'ecdsa-sha2-nistp256')}\n[127.0.0.1]:${port} ${E.line}\n`, '/root/.ssh/known_hosts'), (err: Error) => {
        assert.match(err.message, /host key refused: web3 \(127\.0\.0\.1:\d+\) offers no host key of a type known_hosts has for it \(ecdsa-sha2-nistp256: known_hosts line 3 in \/root\/\.ssh\/known_hosts\)/);
        assert.doesNotMatch(err.message, /changed|man-in-the-middle/);
        return true;
      });
    });
  });
});
