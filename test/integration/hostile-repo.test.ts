/**
 * A hostile repository author. Release after release, the repository changes the type of
 * its paths (file, symlink, directory, in every order, nested), with symlinks out of the
 * release (absolute, and relative through `..`), and names that Slipway itself used inside
 * a release (REVISION, `<private file>.slipway-tmp`). Every payload kind is tried: the
 * whole tree as a tar, tar deltas, list deltas (transfer: 'rsync') and the full rsync pull.
 * After every deploy each host's release must be exactly the release commit (names, types,
 * symlink targets, contents, exec bits), and nothing outside the release may have changed:
 * every symlink points at a sentinel dir on the host, which must stay as it was.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { type World, git, makeWorld } from '../support/world.js';

/** path → `d` (dir), `l <target>`, or `f <x|-> <sha256>`: what a tree holds, exec bits included. */
function typedTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, r));
      if (st.isSymbolicLink()) out.set(r, `l ${readlinkSync(join(dir, r))}`);
      else if (st.isDirectory()) {
        out.set(r, 'd');
        walk(r);
      } else out.set(r, `f ${st.mode & 0o100 ? 'x' : '-'} ${createHash('sha256').update(readFileSync(join(dir, r))).digest('hex')}`);
    }
  };
  walk('');
  return out;
}

/** What a path of the work clone should be in a release: text (a file), { link }, or null (absent). */
type Entry = string | { link: string } | null;

// Seen from a host, /data/sentinel; relative links climb out of /data/www/shop/releases/<dir>/
const SENTINEL = '/data/sentinel';
const up = (depth: number) => `${'../'.repeat(depth + 4)}sentinel`;

/** Each state of the hostile paths, deployed in turn; every path changes type from one to the next. */
const STATES: Record<string, Entry>[] = [
  {
    docs: { link: SENTINEL },
    up: { link: up(0) },
    t: 'a file\n',
    'nest/deep': { link: up(1) },
    REVISION: 'not the commit\n',
    'app/settings_local.py.slipway-tmp': { link: `${SENTINEL}/keep` },
    'x.slipway-tmp': { link: `${SENTINEL}/keep` },
  },
  {
    docs: null,
    'docs/a.txt': 'written under docs/\n',
    up: null,
    'up/b.txt': 'written under up/\n',
    t: { link: SENTINEL },
    'nest/deep': null,
    'nest/deep/x.txt': 'written under nest/deep/\n',
    REVISION: 'still not the commit\n',
    'app/settings_local.py.slipway-tmp': 'a file now\n',
  },
  {
    'docs/a.txt': null,
    docs: 'docs is a file\n',
    'up/b.txt': null,
    up: { link: SENTINEL },
    t: null,
    't/c.txt': 'written under t/\n',
    'nest/deep/x.txt': null,
    'nest/deep': 'deep is a file\n',
    REVISION: { link: `${SENTINEL}/keep` },
    'app/settings_local.py.slipway-tmp': { link: up(1) },
  },
  {
    docs: null,
    'docs/d.txt': 'docs is a dir again\n',
    up: null,
    'up/e.txt': 'up is a dir again\n',
    't/c.txt': null,
    t: 'a file again\n',
    'nest/deep': null,
    nest: { link: SENTINEL },
    REVISION: 'a file again\n',
  },
  {
    nest: null,
    'nest/deep': { link: up(1) },
    docs: null,
    'docs/d.txt': null,
    'docs/sub/e.txt': 'nested\n',
    'up/e.txt': null,
    up: { link: up(0) },
  },
];

describe('a hostile repository: type changes and symlinks out of the release, on every payload kind', { timeout: 600_000 }, () => {
  let w: World;
  const sentinel = (i: number) => join(w.fleet.hosts[i]!.dataDir, 'sentinel');

  before(async () => {
    w = await makeWorld({ net: '127.0.74', size: 2 });
    for (const host of w.fleet.hosts) {
      await mkdir(join(host.dataDir, 'sentinel'), { recursive: true });
      await writeFile(join(host.dataDir, 'sentinel', 'keep'), 'untouched\n');
    }
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 0, r.all);
  });
  after(async () => {
    await w?.down();
  });

  /** Apply one state to the work clone, commit and push; returns the commit. */
  const commitState = async (state: Record<string, Entry>, message: string) => {
    // removals first, as the repository author's own checkout would need
    for (const [path, entry] of Object.entries(state)) if (entry === null) await rm(join(w.work, path), { recursive: true, force: true });
    for (const [path, entry] of Object.entries(state)) {
      if (entry === null) continue;
      const full = join(w.work, path);
      await rm(full, { recursive: true, force: true });
      await mkdir(join(full, '..'), { recursive: true });
      if (typeof entry === 'string') await writeFile(full, entry);
      else await symlink(entry.link, full);
    }
    await git(w.work, 'add', '-A');
    await git(w.work, 'commit', '-qm', message);
    await git(w.work, 'push', '-q', 'origin', 'HEAD:main');
  };

  /** The live release commit's tree, from the store (git archive keeps exec bits and links). */
  const expected = async (): Promise<Map<string, string>> => {
    const tmp = await mkdtemp(join(tmpdir(), 'slipway-hostile-'));
    try {
      const commit = await git(w.www, 'rev-parse', 'HEAD');
      await execa('sh', ['-c', 'git -C "$0" archive "$1" | tar -x -C "$2"', w.www, commit, tmp]);
      return typedTree(tmp);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  };

  const deployAndCheck = async (label: string, kind: RegExp) => {
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 0, `${label}: ${r.all}`);
    assert.match(r.stderr, kind, `${label}: the payload tried`);
    const want = await expected();
    for (let i = 0; i < w.fleet.hosts.length; i++) {
      const host = w.fleet.hosts[i]!;
      assert.deepEqual(readdirSync(sentinel(i)), ['keep'], `${label}, ${host.name}: nothing was written outside the release`);
      assert.equal(readFileSync(join(sentinel(i), 'keep'), 'utf8'), 'untouched\n', `${label}, ${host.name}: nothing written through a symlink`);
      const live = w.liveDir(host);
      assert.ok(live, `${label}, ${host.name}: serves a release`);
      assert.deepEqual(typedTree(live), want, `${label}, ${host.name}: the release is exactly its commit`);
      assert.equal(lstatSync(join(live, 'app/settings_local.py')).mode & 0o777, 0o640, `${label}, ${host.name}: the private file has its mode`);
    }
  };

  /** A host that holds nothing: its next stage is the whole tree (a tar, or the rsync pull). */
  const wipe = async (i: number) => {
    const base = w.remoteBase(w.fleet.hosts[i]!);
    await rm(join(base, 'current'), { force: true });
    await rm(join(base, 'releases'), { recursive: true, force: true });
    assert.ok(!existsSync(join(base, 'releases')));
  };

  it('tar deltas (web1) and the whole tree as a tar (web2, wiped before each deploy)', async () => {
    for (const [n, state] of STATES.entries()) {
      await commitState(state, `hostile ${n}`);
      await wipe(1);
      await deployAndCheck(`tar, state ${n}`, /\[web1\] staged r\d+ \(.*delta from r\d+\)/);
    }
  });

  it('list deltas (web1) and the full rsync pull (web2, wiped before each deploy), with transfer rsync', async () => {
    await w.writeApp({ remoteExtra: "transfer: 'rsync'" });
    // from the last state back to the first is a change of type too
    for (const [n, state] of STATES.entries()) {
      await commitState(state, `hostile again ${n}`);
      await wipe(1);
      await deployAndCheck(`rsync, state ${n}`, /\[web1\] staged r\d+ \(.*delta from r\d+\)/);
    }
  });
});
