/**
 * Reading what the host scripts print (remote/*.sh): `key value` lines, a look's releases,
 * rsync's itemized changes and its --stats. Pure: text in, values out.
 */
import type { Release } from '../release-store/release.js';
import { RELEASE_DIR, releaseDir } from './layout.js';

/** A host's releases as its look saw them. */
export interface HostState {
  /** The release directory `current` names, if any. */
  live?: string;
  /** Release directory → the commit in its REVISION (releases but the live one: only if they match their manifest). */
  have: Map<string, string>;
  /** Releases held but not intact (or without a manifest): staged afresh if needed. */
  edited?: KeptRelease[];
  /** Releases but the live one that the look did not check against their manifests. */
  unchecked?: Set<string>;
  /** Releases the prune after a deploy of a new release would remove (a deploy's look only). */
  spare?: Set<string>;
}

export function parseLook(stdout: string): HostState {
  const lines = parseLines(stdout);
  const live = lines.get('live')?.[0] || undefined;
  const have = new Map<string, string>();
  const unchecked = new Set<string>();
  for (const entry of lines.get('have') ?? []) {
    const [dir, rev, flag] = entry.split(' ');
    if (!dir || !rev || !RELEASE_DIR.test(dir)) continue;
    have.set(dir, rev);
    if (flag === 'unchecked') unchecked.add(dir);
  }
  const edited = parseKept(lines.get('edited') ?? []);
  const spare = new Set((lines.get('spare') ?? []).filter((d) => RELEASE_DIR.test(d) && d !== live));
  return { ...(live ? { live } : {}), have, ...(edited.length ? { edited } : {}), ...(unchecked.size ? { unchecked } : {}), ...(spare.size ? { spare } : {}) };
}

/** Does the host hold this release intact (its directory, with the right REVISION)? */
export function holds(state: HostState, release: Pick<Release, 'id' | 'commit'>): boolean {
  return state.have.get(releaseDir(release)) === release.commit;
}

/** A kept release that does not match its manifest: `differ` paths changed, or undefined: it has none. */
export interface KeptRelease {
  dir: string;
  differ?: number;
}

/** Read `<dir> <n|unverifiable>` (the values of `kept`, `forgot` or `edited` lines). */
export function parseKept(values: readonly string[]): KeptRelease[] {
  return values.flatMap((v): KeptRelease[] => {
    const m = /^(\S+) (unverifiable|[0-9]+)$/.exec(v.trim());
    if (!m || !RELEASE_DIR.test(m[1]!)) return [];
    return [m[2] === 'unverifiable' ? { dir: m[1]! } : { dir: m[1]!, differ: Number(m[2]) }];
  });
}

/** "had been edited by hand (2 files differ)", or why it could not be checked. */
export function describeKept(k: Pick<KeptRelease, 'differ'>): string {
  return k.differ === undefined ? 'has no manifest (staged by an older Slipway): cannot be checked' : `had been edited by hand (${k.differ} file${k.differ === 1 ? '' : 's'} differ${k.differ === 1 ? 's' : ''})`;
}

/** How a host's file differs from the release, from rsync's itemized changes. */
export interface Drift {
  kind: 'modified' | 'missing' | 'extra' | 'mode' | 'changed';
  path: string;
}

/** Read `drift <%i> <%n>` lines (rsync --out-format) into differences. */
export function parseDrift(lines: readonly string[]): Drift[] {
  return lines.flatMap((line): Drift[] => {
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) return [];
    const [, flags, path] = m as unknown as [string, string, string];
    if (flags === '*deleting') return [{ kind: 'extra', path }];
    const attrs = flags.slice(2);
    if (/^\++$/.test(attrs)) return [{ kind: 'missing', path }];
    if (flags[1] === 'L' || attrs[0] === 'c' || attrs[1] === 's') return [{ kind: 'modified', path }];
    if (attrs[3] === 'p') return [{ kind: 'mode', path }];
    return [{ kind: 'changed', path }];
  });
}

/** `key value` lines printed by the scripts. */
export function parseLines(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const [key, ...rest] = line.trim().split(' ');
    if (!key) continue;
    out.set(key, [...(out.get(key) ?? []), rest.join(' ')]);
  }
  return out;
}

export interface TransferStats {
  files: number;
  bytes: number;
}

/** Read rsync --stats (on the receiving side) for what actually crossed the wire. */
export function parseRsyncStats(stdout: string): TransferStats {
  const num = (label: string) => {
    const m = new RegExp(`^${label}: ([0-9,.]+)`, 'm').exec(stdout);
    return m ? Number(m[1]!.replaceAll(',', '')) : 0;
  };
  return { files: num('Number of regular files transferred'), bytes: num('Total bytes received') };
}
