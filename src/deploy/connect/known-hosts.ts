// Host-key verification against the text of an OpenSSH known_hosts file.
//
// Kept pure (no fs, no ssh2) so the caller decides where the file comes from
// and the matching rules can be unit-tested against ssh-keygen's own output.
// Semantics follow OpenSSH's hostfile.c/match.c, with one deliberate
// extension: `[host]:22` also matches port 22 (OpenSSH would only match the
// bare host), because people write it and expect it to work.

import { createHash, createHmac } from 'node:crypto';

export interface KnownHostKey {
  marker?: '@revoked' | '@cert-authority';
  keyType: string;
  key: Buffer;
  line: number;
}

type HostField =
  | { kind: 'hashed'; salt: Buffer; hash: Buffer }
  | { kind: 'patterns'; patterns: { negated: boolean; glob: string }[] };

interface Entry {
  hosts: HostField;
  hostKey: KnownHostKey;
}

export interface KnownHostsFile {
  readonly entries: readonly Entry[];
  /** The file's path, for messages. */
  readonly path?: string;
}

export type HostKeyVerdict =
  | { ok: true }
  | { ok: false; reason: 'unknown' | 'changed' | 'revoked' | 'other-type' | 'cert-authority'; message: string };

const SHA1_LEN = 20;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function decodeBase64(s: string): Buffer | undefined {
  if (!BASE64.test(s)) return undefined;
  const buf = Buffer.from(s, 'base64');
  return buf.length > 0 ? buf : undefined;
}

/** Key type named inside an SSH wire-format public key blob (its first string). */
function blobKeyType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || 4 + len > blob.length) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** OpenSSH-style fingerprint: `SHA256:` + unpadded base64 of sha256(blob). */
export function fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

function parseHostField(field: string): HostField | undefined {
  // A hashed entry is the whole field; OpenSSH never mixes it with patterns.
  if (field.startsWith('|')) {
    const parts = field.split('|');
    if (parts.length !== 4 || parts[1] !== '1') return undefined;
    const salt = decodeBase64(parts[2] ?? '');
    const hash = decodeBase64(parts[3] ?? '');
    if (salt?.length !== SHA1_LEN || hash?.length !== SHA1_LEN) return undefined;
    return { kind: 'hashed', salt, hash };
  }
  const patterns = field.split(',').map((p) => {
    const negated = p.startsWith('!');
    return { negated, glob: (negated ? p.slice(1) : p).toLowerCase() };
  });
  return { kind: 'patterns', patterns };
}

export function parseKnownHosts(text: string, path?: string): KnownHostsFile {
  const entries: Entry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const fields = (lines[i] ?? '').trim().split(/[ \t]+/);
    if (fields[0] === '' || fields[0]?.startsWith('#')) continue;

    let marker: KnownHostKey['marker'];
    if (fields[0]?.startsWith('@')) {
      // An unknown marker is an error line in OpenSSH, not a plain key line.
      if (fields[0] !== '@revoked' && fields[0] !== '@cert-authority') continue;
      marker = fields.shift() as KnownHostKey['marker'];
    }

    const [hostField, keyType, keyB64] = fields;
    if (!hostField || !keyType || !keyB64) continue;
    const hosts = parseHostField(hostField);
    const key = decodeBase64(keyB64);
    // A blob whose embedded type disagrees with the type field is rejected by
    // OpenSSH too; accepting it would let a mislabelled line vouch for a key.
    if (!hosts || !key || blobKeyType(key) !== keyType) continue;

    const hostKey: KnownHostKey = { keyType, key, line: i + 1 };
    if (marker) hostKey.marker = marker;
    entries.push({ hosts, hostKey });
  }
  return path === undefined ? { entries } : { entries, path };
}

/** Glob match with OpenSSH's only wildcards: `*` (any run) and `?` (one char). */
function globMatch(name: string, glob: string): boolean {
  let n = 0;
  let g = 0;
  let starG = -1;
  let starN = 0;
  while (n < name.length) {
    if (g < glob.length && (glob[g] === '?' || glob[g] === name[n])) {
      n++;
      g++;
    } else if (g < glob.length && glob[g] === '*') {
      starG = g++;
      starN = n;
    } else if (starG >= 0) {
      g = starG + 1;
      n = ++starN;
    } else {
      return false;
    }
  }
  while (glob[g] === '*') g++;
  return g === glob.length;
}

function hostFieldMatches(hosts: HostField, name: string): boolean {
  if (hosts.kind === 'hashed') {
    return createHmac('sha1', hosts.salt).update(name).digest().equals(hosts.hash);
  }
  let positive = false;
  for (const { negated, glob } of hosts.patterns) {
    if (!globMatch(name, glob)) continue;
    // Any negated match vetoes the whole line, whatever else matched.
    if (negated) return false;
    positive = true;
  }
  return positive;
}

/** Names a host is looked up under, as OpenSSH spells them in known_hosts. */
function lookupNames(host: string, port: number): string[] {
  const h = host.toLowerCase();
  return port === 22 ? [h, `[${h}]:22`] : [`[${h}]:${port}`];
}

/** Every line (including @revoked and @cert-authority ones) that applies to host:port. */
export function keysFor(file: KnownHostsFile, host: string, port: number): KnownHostKey[] {
  const names = lookupNames(host, port);
  return file.entries
    .filter((e) => names.some((name) => hostFieldMatches(e.hosts, name)))
    .map((e) => e.hostKey);
}

/** `known_hosts line 4 in /root/.ssh/known_hosts` (lines: `lines 2 (ssh-rsa), 4 (ssh-ed25519)`). */
function where(file: KnownHostsFile, keys: readonly KnownHostKey[], withType = false): string {
  const lines = keys.map((k) => (withType ? `${k.line} (${k.keyType})` : String(k.line))).join(', ');
  return `known_hosts ${keys.length === 1 ? 'line' : 'lines'} ${lines}${file.path ? ` in ${file.path}` : ''}`;
}

/**
 * ssh2's names for the host key algorithms a key type can sign with, in ssh2's
 * order of preference: an RSA key signs with SHA-2 (RFC 8332) or SHA-1.
 */
const ALGORITHMS: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  'ssh-dss': ['ssh-dss'],
};

/**
 * The host key algorithms to ask this host for: only those known_hosts has a
 * key for, so a server with several host keys presents the one we can check
 * (ssh2 would otherwise ask for ed25519 first, and a host known only by its RSA
 * key would look changed). Undefined when nothing is known: the server shows
 * its key and the verdict says it is unknown.
 */
export function hostKeyAlgorithms(file: KnownHostsFile, host: string, port: number): string[] | undefined {
  const types = new Set(keysFor(file, host, port).filter((k) => k.marker === undefined).map((k) => k.keyType));
  const algorithms = Object.entries(ALGORITHMS).flatMap(([type, algs]) => (types.has(type) ? algs : []));
  return algorithms.length ? algorithms : undefined;
}

/** What to say when the server offered none of the host key types known_hosts has for it (ssh2's "no matching host key format"). */
export function noCommonHostKeyType(file: KnownHostsFile, host: string, port: number, label?: string): string {
  const trusted = keysFor(file, host, port).filter((k) => k.marker === undefined);
  const types = [...new Set(trusted.map((k) => k.keyType))].join(', ');
  return (
    `${describeHost(host, port, label)} offers no host key of a type known_hosts has for it (${types}: ${where(file, trusted)}): ` +
    `add the key it offers to the known_hosts file (ssh-keyscan, then verify the fingerprint), or configure the server to offer its ${types} key`
  );
}

function describeHost(host: string, port: number, label?: string): string {
  const addr = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return label && label !== host ? `${label} (${addr})` : addr;
}

export function verifyHostKey(
  file: KnownHostsFile,
  host: string,
  port: number,
  presented: Buffer,
  label?: string,
): HostKeyVerdict {
  const who = describeHost(host, port, label);
  const shown = `${blobKeyType(presented) ?? 'unparseable'} key ${fingerprint(presented)}`;
  const keys = keysFor(file, host, port);

  // Checked first: a revocation must win even if another line trusts the key.
  const revoked = keys.find((k) => k.marker === '@revoked' && k.key.equals(presented));
  if (revoked) {
    return {
      ok: false,
      reason: 'revoked',
      message:
        `host key for ${who} is revoked (${where(file, [revoked])}: ${shown}); ` +
        `refusing to connect — give the server a new host key, then add that key to the known_hosts file`,
    };
  }

  const trusted = keys.filter((k) => k.marker === undefined);
  if (trusted.some((k) => k.key.equals(presented))) return { ok: true };

  if (trusted.length === 0) {
    // certificates are not checked: a CA line would otherwise be a silent "unknown host"
    const authorities = keys.filter((k) => k.marker === '@cert-authority');
    if (authorities.length) {
      return {
        ok: false,
        reason: 'cert-authority',
        message:
          `${where(file, authorities)}: @cert-authority is not supported; list the host's key for ${who} ` +
          `(ssh-keyscan, then verify the fingerprint: the server presented ${shown})`,
      };
    }
    return {
      ok: false,
      reason: 'unknown',
      message:
        `no known host key for ${who}; add it to the known_hosts file ` +
        `(ssh-keyscan, then verify the fingerprint: the server presented ${shown})`,
    };
  }
  const type = blobKeyType(presented);
  const sameType = trusted.filter((k) => k.keyType === type);
  if (type !== undefined && sameType.length === 0) {
    // every key type's name starts with a vowel sound: ssh-, ecdsa-, sk-
    const types = [...new Set(trusted.map((k) => k.keyType))];
    return {
      ok: false,
      reason: 'other-type',
      message:
        `${who} offers an ${type} key, but known_hosts has only ${types.map((t) => `an ${t}`).join(', ')} key for it ` +
        `(${where(file, trusted)}): add its ${type} key (${fingerprint(presented)}, once verified out of band) ` +
        `or configure the host key algorithm`,
    };
  }
  return {
    ok: false,
    reason: 'changed',
    message:
      `host key for ${who} has changed: the server presented ${shown}, ` +
      `which matches no known key (${where(file, sameType, true)}); if the server was rebuilt, ` +
      `confirm the new fingerprint out of band and replace the old line, ` +
      `otherwise treat this as a possible man-in-the-middle attack`,
  };
}
