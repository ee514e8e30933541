import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { AppEnv } from '../../src/config/resolve.js';
import { deltaInput, stageCmd } from '../../src/deploy/remote.js';
import { type HostState } from '../../src/deploy/remote-output.js';
import { releaseDir } from '../../src/deploy/layout.js';
import { Shipment, explainStageFailure } from '../../src/deploy/stage/stage.js';
import { commitRelease, listReleases } from '../../src/release-store/store.js';
import { FACTS, withStore } from '../support/store.js';
import { baseOf } from '../../src/release-store/delta.js';
import type { Release } from '../../src/release-store/release.js';

const rel = (n: number, privateFiles: string[] = []): Release => ({
  id: `r${n}`,
  number: n,
  commit: String(n).repeat(40).slice(0, 40),
  date: '2026-01-01T00:00:00Z',
  deployer: 'alice',
  submodules: [],
  privateFiles,
});

describe('staging command and its base release', () => {
  it('the base is the newest release older than the one shipped, whatever the list order', () => {
    assert.equal(baseOf(rel(5), [rel(3), rel(6), rel(4), rel(5)])?.id, 'r4');
    assert.equal(baseOf(rel(1), [rel(1)]), undefined);
  });

  it('passes the base release, the private mode, the payload kind and the private files as separate arguments', () => {
    const cmd = stageCmd('/data/www/shop', rel(5, ['app/my settings.py']), 4242, 20, 'rsync', { payload: { kind: 'list', from: rel(4) }, mode: 0o640 });
    assert.deepEqual(cmd.slice(4), [
      '/data/www/shop', 'r5-555555555555', '5'.repeat(40), '4242', '20', 'rsync', '',
      'r4-444444444444', '4'.repeat(40), '0640', 'list', '', '', '', 'app/my settings.py',
    ]);
    assert.equal(cmd[0], 'sh');
  });

  it('with a tar payload, the deleted paths travel as one newline-separated argument', () => {
    const cmd = stageCmd('/data/www/shop', rel(5), 4242, 20, 'rsync', { payload: { kind: 'tar', from: rel(4), deleted: ['old/a b', "it's"] }, mode: 0o600 });
    assert.deepEqual(cmd.slice(13), ['0600', 'tar', "old/a b\nit's", '', '']);
  });

  it('a whole-tree tar names no base', () => {
    const cmd = stageCmd('/data/www/shop', rel(5), 0, 20, 'rsync', { payload: { kind: 'full' } });
    assert.deepEqual(cmd.slice(11, 16), ['', '', '0640', 'full', '']);
  });

  it('without a base, the delta arguments are empty and hosts pull the whole tree', () => {
    const cmd = stageCmd('/data/www/shop', rel(1), 4242, 20, 'rsync');
    assert.deepEqual(cmd.slice(11, 16), ['', '', '0640', '', '']);
  });

  it('lists deletions then changes, one tagged line per path, spaces and quotes kept as they are', () => {
    assert.equal(deltaInput({ changed: ['a b.txt', "it's/x"], deleted: ['old/$y'] }), "Dold/$y\nCa b.txt\nCit's/x\n");
    assert.equal(deltaInput({ changed: [], deleted: [] }), '');
  });
});

describe('what each host is sent (Shipment.choose), from its probe', () => {
  const releases = [rel(1), rel(2), rel(3), rel(4)];
  const appEnv = (transfer: 'auto' | 'rsync' = 'auto') => ({ remote: { transfer }, paths: { www: '/nonexistent', state: '/nonexistent', shipTar: '/nonexistent/ship.tar' } }) as unknown as AppEnv;
  const shipment = (transfer?: 'auto' | 'rsync') => new Shipment(appEnv(transfer), rel(4), () => Promise.reject(new Error('no tree needed')), releases);
  const state = (live: number | undefined, ...have: number[]): HostState => ({
    ...(live ? { live: releaseDir(rel(live)) } : {}),
    have: new Map(have.map((n) => [releaseDir(rel(n)), rel(n).commit])),
  });

  it('nothing for a host that holds the release, live or not', async () => {
    assert.deepEqual(await shipment().choose(state(4, 3, 4)), { kind: 'present' });
    assert.deepEqual(await shipment().choose(state(3, 3, 4)), { kind: 'present' });
  });

  it('the whole tree as one tar to a host with no release; rsync when the env says so', async () => {
    assert.deepEqual(await shipment().choose(state(undefined)), { kind: 'full' });
    assert.deepEqual(await shipment('rsync').choose(state(undefined)), { kind: 'rsync', whole: true }, 'the whole tree: its size is the progress total');
  });

  it('a delta from the release the host serves, else from the newest it holds, never from a broken one', () => {
    const s = shipment();
    assert.equal(s.baseFor(state(2, 1, 2, 3))?.id, 'r2');
    assert.equal(s.baseFor(state(undefined, 1, 3))?.id, 'r3');
    const broken: HostState = { live: releaseDir(rel(3)), have: new Map([[releaseDir(rel(3)), 'f'.repeat(40)], [releaseDir(rel(1)), rel(1).commit]]) };
    assert.equal(s.baseFor(broken)?.id, 'r1', 'r3 there has the wrong REVISION');
    assert.equal(s.baseFor(undefined)?.id, 'r3', 'without a probe: the newest release before this one');
  });
});

describe('without a probe, a host is sent a delta it checks itself', () => {
  it('a small delta that would be a tar goes as the list of paths (the host falls back to a full pull if its base is gone)', () =>
    withStore(async (www) => {
      await writeFile(join(www, 'index.html'), 'v1\n');
      await writeFile(join(www, 'keep.txt'), 'same\n');
      const r1 = (await commitRelease(www, FACTS, [])).release;
      await writeFile(join(www, 'index.html'), 'v2\n');
      const made = await commitRelease(www, FACTS, []);
      const env = { remote: { transfer: 'auto' }, paths: { www, state: www, shipTar: join(www, 'ship.tar') } } as unknown as AppEnv;
      const shipment = new Shipment(env, made.release, () => Promise.resolve(www), made.releases);
      const withProbe = await shipment.choose({ live: releaseDir(r1), have: new Map([[releaseDir(r1), r1.commit]]) });
      assert.equal(withProbe.kind, 'tar');
      const blind = await shipment.choose(undefined);
      assert.equal(blind.kind, 'list');
      assert.equal((blind as { paths?: string }).paths, 'Cindex.html\n', 'the changed path travels with it');
    }));
});

describe("a spare release's tree (one the prune after the deploy would remove)", () => {
  /**
   * r1 with `stable` files that stay and `gone` files r2 deletes; r2, r3 and r4 change one
   * file each: what a host serving r3 with spare releases is sent for r4.
   */
  async function shipments(www: string, stable: number, gone: number): Promise<{ shipment: Shipment; releases: Release[] }> {
    await writeFile(join(www, 'index.html'), 'v1\n');
    for (let i = 0; i < stable; i++) await writeFile(join(www, `stable${i}.txt`), `${i}\n`);
    for (let i = 0; i < gone; i++) await writeFile(join(www, `gone${i}.txt`), `${i}\n`);
    await commitRelease(www, FACTS, []);
    for (let i = 0; i < gone; i++) await rm(join(www, `gone${i}.txt`));
    for (const v of ['v2', 'v3', 'v4']) {
      await writeFile(join(www, 'index.html'), `${v}\n`);
      await commitRelease(www, FACTS, []);
    }
    const releases = await listReleases(www);
    const env = { remote: { transfer: 'auto' }, paths: { www, state: www, shipTar: join(www, 'ship.tar') } } as unknown as AppEnv;
    return { shipment: new Shipment(env, releases.find((r) => r.id === 'r4')!, () => Promise.resolve(www), releases), releases };
  }
  const host = (releases: Release[], live: string, spare: string[], ...held: string[]): HostState => ({
    live: releaseDir(releases.find((r) => r.id === live)!),
    have: new Map([live, ...spare, ...held].map((id) => releases.find((r) => r.id === id)!).map((r) => [releaseDir(r), r.commit])),
    spare: new Set(spare.map((id) => releaseDir(releases.find((r) => r.id === id)!))),
  });
  const sent = async (shipment: Shipment, state: HostState) => {
    const choice = await shipment.choose(state);
    assert.ok(choice.kind === 'tar');
    return [choice.from.id, choice.reuse];
  };

  it('a delta from the newest spare, applied in its tree, when it is no bigger than the live one', () =>
    withStore(async (www) => {
      const { shipment, releases } = await shipments(www, 0, 3);
      assert.deepEqual(await sent(shipment, host(releases, 'r3', ['r1', 'r2'])), ['r2', true]);
    }));

  it('a bigger one too, within a path more for every four files of the release', () =>
    withStore(async (www) => {
      const { shipment, releases } = await shipments(www, 40, 10);
      assert.deepEqual(await sent(shipment, host(releases, 'r3', ['r1'])), ['r1', true], '10 more paths, 41 files');
    }));

  it('the delta from the live release when the spare one is much bigger', () =>
    withStore(async (www) => {
      const { shipment, releases } = await shipments(www, 30, 10);
      assert.deepEqual(await sent(shipment, host(releases, 'r3', ['r1'])), ['r3', undefined], '10 more paths, 31 files');
    }));

  it('none for a host that holds a newer release (a rollback keeps more than a deploy prunes)', () =>
    withStore(async (www) => {
      const { shipment, releases } = await shipments(www, 0, 0);
      const older = new Shipment(shipment['appEnv'], releases.find((r) => r.id === 'r2')!, () => Promise.resolve(www), releases);
      assert.equal(older.spareFor(host(releases, 'r4', ['r1'], 'r3')), undefined);
      assert.equal(shipment.spareFor(host(releases, 'r3', ['r1']))?.id, 'r1');
    }));
});

describe('a stage that fails for want of disk says so', () => {
  it("a host's write errors read as a full disk, with its own words kept", () => {
    assert.equal(explainStageFailure('printf: printf: I/O error'), 'this host could not write its release: is its disk full? (printf: printf: I/O error)');
    assert.match(explainStageFailure('tar: index.html: Cannot write: No space left on device'), /^this host could not write its release: is its disk full\?/);
  });
  it('other failures are left as they are', () => assert.equal(explainStageFailure('cannot unpack the release'), 'cannot unpack the release'));
});
