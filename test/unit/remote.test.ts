import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { type Cmd, shellLine } from '../../src/exec/cmd.js';
import { stageCmd, statusCmd, activateCmd, pruneCmd, lookCmd, FALL_BACK_TO_RSYNC, aheadCmd, SCRIPTS_DIR, scriptText } from '../../src/deploy/remote.js';
import { parseLines, parseRsyncStats, parseLook, holds } from '../../src/deploy/remote-output.js';
import { RELEASE_DIR, idOfDir, releaseDir } from '../../src/deploy/layout.js';
import { GIT_MODES, tarCmd } from '../../src/deploy/stage/payload.js';
import { MODULE, RSYNC_USER } from '../../src/deploy/stage/release-server.js';
import type { Release } from '../../src/release-store/release.js';

/** A stable, distinct 40-hex commit id per release number. */
function commitFor(n: number): string {
  return createHash('sha1').update(`commit ${n}`).digest('hex');
}

function rel(n: number, commit = commitFor(n)): Release {
  return { id: `r${n}`, number: n, commit, date: '2024-01-01T00:00:00Z', deployer: 'alice', submodules: [], privateFiles: [] };
}

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'slipway-remote-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

let counter = 0;
function freshBase(): string {
  const base = join(tmp, `host${++counter}`, 'www', 'app');
  mkdirSync(join(base, 'releases'), { recursive: true });
  return base;
}

/** Run a Cmd the way a web server does: the line from shellLine, given to sh -c. */
function runRemote(cmd: Cmd, cwd = tmp, input?: string | Buffer): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync('/bin/sh', ['-c', shellLine(cmd)], { cwd, input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH, LC_ALL: 'C' } });
  return { stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), status: r.status };
}

/** What a deploy does to one host once it is staged: activate, then (after the rollout) prune. */
function switchTo(base: string, release: Release, keep: number): { stdout: string; stderr: string; status: number | null } {
  const activated = runRemote(activateCmd(base, releaseDir(release)));
  if (activated.status !== 0) return activated;
  const pruned = runRemote(pruneCmd(base, keep));
  return { stdout: activated.stdout + pruned.stdout, stderr: activated.stderr + pruned.stderr, status: pruned.status };
}

/** Slipway's record of the commit a release dir holds: beside it, never in it. */
function recordOf(dir: string): string {
  return join(dirname(dir), `.${basename(dir)}.rev`);
}

/** A complete release dir, as the stage script leaves it (legacy: as Slipway did before the record, REVISION inside). */
function staged(base: string, release: Release, files: Record<string, string> = { 'index.html': `<h1>${release.id}</h1>\n` }, legacy = false): string {
  const dir = join(base, 'releases', releaseDir(release));
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  if (!legacy) writeManifest(dir);
  writeFileSync(legacy ? join(dir, 'REVISION') : recordOf(dir), `${release.commit}\n`);
  return dir;
}

/** The manifest the stage script records beside a release (common.sh's manifest function). */
function writeManifest(dir: string): void {
  const common = readFileSync(join(SCRIPTS_DIR, 'common.sh'), 'utf8');
  const r = spawnSync('/bin/sh', ['-c', `${common}\nmanifest "$1" > "$2"`, 'manifest', dir, join(dirname(dir), `.${basename(dir)}.manifest`)]);
  assert.equal(r.status, 0, r.stderr.toString());
}

/** What releases/ holds but the records and manifests. */
function releasesIn(base: string): string[] {
  return readdirSync(join(base, 'releases')).filter((n) => !/^\.r.*\.(rev|manifest)$/.test(n)).sort();
}

function recordsIn(base: string): string[] {
  return readdirSync(join(base, 'releases')).filter((n) => /^\.r.*\.rev$/.test(n)).sort();
}

describe('command builders', () => {
  const release = rel(42, '9fceb02d0ae598e95dc970b74767f19372d61af8');

  test('releaseDir is r<N>-<commit12>', () => {
    assert.equal(releaseDir(release), 'r42-9fceb02d0ae5');
    assert.match(releaseDir(release), RELEASE_DIR);
  });

  test('stageCmd: sh -c <fixed script> slipway-stage base dir rev port timeout rsync group', () => {
    const cmd = stageCmd('/data/www/demo', release, 40123, 29.2, 'rsync');
    assert.deepEqual([cmd[0], cmd[1]], ['sh', '-c']);
    assert.deepEqual(cmd.slice(3), ['slipway-stage', '/data/www/demo', 'r42-9fceb02d0ae5', release.commit, '40123', '30', 'rsync', '', '', '', '0640', '', '', '', '', ...release.privateFiles]);
    assert.equal(cmd[2], scriptText('stage'));
    assert.match(cmd[2]!, /\nset -eu\n/);
  });

  test('the scripts are the files in remote/, after the shared common.sh', () => {
    const common = readFileSync(join(SCRIPTS_DIR, 'common.sh'), 'utf8');
    for (const name of ['stage', 'ahead', 'activate', 'look', 'prune', 'status', 'inspect', 'repair'] as const) {
      assert.equal(scriptText(name), `${common}\n${readFileSync(join(SCRIPTS_DIR, `${name}.sh`), 'utf8')}`);
    }
  });

  test('the scripts name the rsync daemon and the modes the admin node uses', () => {
    for (const name of ['stage', 'inspect', 'repair'] as const) assert.ok(scriptText(name).includes(`rsync://${RSYNC_USER}@127.0.0.1:$port/${MODULE}/`), name);
    assert.equal(scriptText('stage').split(`--chmod=${GIT_MODES} `).length, 3, 'both rsync pulls of the stage script');
  });

  test('activateCmd and pruneCmd: sh -c <fixed script> slipway-<name> base …', () => {
    const activate = activateCmd('/data/www/demo', releaseDir(release));
    assert.deepEqual([activate[0], activate[1]], ['sh', '-c']);
    assert.deepEqual(activate.slice(3), ['slipway-activate', '/data/www/demo', 'r42-9fceb02d0ae5']);
    assert.match(activate[2]!, /\nset -eu\n/);
    assert.deepEqual(pruneCmd('/data/www/demo', 5).slice(3), ['slipway-prune', '/data/www/demo', '5']);
  });

  test('lookCmd: the release to check against its manifest is an argument, and only a release directory', () => {
    assert.deepEqual(lookCmd('/data/www/demo').slice(3), ['slipway-look', '/data/www/demo']);
    assert.deepEqual(lookCmd('/data/www/demo', 'r42-9fceb02d0ae5').slice(3), ['slipway-look', '/data/www/demo', 'r42-9fceb02d0ae5']);
    for (const bad of ['../r42-9fceb02d0ae5', 'verify', 'r42-9fceb02d0ae5\n', '$(touch x)', '']) assert.throws(() => lookCmd('/a', bad), /not a release directory/, JSON.stringify(bad));
  });

  test('statusCmd: sh -c <fixed script> slipway-status base', () => {
    const cmd = statusCmd('/data/www/demo');
    assert.equal(cmd.length, 5);
    assert.deepEqual([cmd[0], cmd[1], cmd[3], cmd[4]], ['sh', '-c', 'slipway-status', '/data/www/demo']);
  });

  test('the scripts are fixed: no argument is ever glued into them', () => {
    const hostile = "/data/www/$(touch pwned) 'x' `y`";
    const other = rel(7, 'abcdefabcdef0123456789abcdef0123456789ab');
    assert.equal(stageCmd(hostile, other, 1, 1, '/opt/x;y/rsync')[2], stageCmd('/a', release, 2, 2, 'rsync')[2]);
    assert.equal(activateCmd(hostile, releaseDir(other))[2], activateCmd('/a', releaseDir(release))[2]);
    assert.equal(pruneCmd(hostile, 1)[2], pruneCmd('/a', 9)[2]);
    assert.equal(statusCmd(hostile)[2], statusCmd('/a')[2]);
    for (const cmd of [stageCmd(hostile, other, 1, 1, 'rsync'), activateCmd(hostile, releaseDir(other)), pruneCmd(hostile, 1), statusCmd(hostile)]) {
      assert.ok(!cmd[2]!.includes('pwned'));
      assert.equal(cmd[4], hostile);
    }
  });
});

describe('RELEASE_DIR and idOfDir', () => {
  test('RELEASE_DIR matches only names this tool creates', () => {
    assert.deepEqual([...(RELEASE_DIR.exec('r42-9fceb02d0ae5') ?? [])], ['r42-9fceb02d0ae5', '42', '9fceb02d0ae5']);
    for (const name of ['r0-9fceb02d0ae5', 'r42-9fceb02d0ae', 'r42-9fceb02d0ae5f', 'r42-9FCEB02D0AE5', '.r42-9fceb02d0ae5.partial', 'r42-9fceb02d0ae5.bak', 'r42', 'current', 'r-9fceb02d0ae5', ' r42-9fceb02d0ae5']) {
      assert.ok(!RELEASE_DIR.test(name), name);
    }
  });

  test('idOfDir shows r<N> for release dirs, anything else as it is', () => {
    assert.equal(idOfDir('r42-9fceb02d0ae5'), 'r42');
    assert.equal(idOfDir('r1-000000000000'), 'r1');
    assert.equal(idOfDir('something-else'), 'something-else');
    assert.equal(idOfDir(''), undefined);
    assert.equal(idOfDir(undefined), undefined);
  });
});

describe('parseLines', () => {
  test('groups "key value" lines by key, in order', () => {
    const m = parseLines('previous r1-000000000000\nswitched\npruned r2-aaaaaaaaaaaa\n\n  pruned r3-bbbbbbbbbbbb  \nlive \nnote two words here\n');
    assert.deepEqual([...m.entries()], [
      ['previous', ['r1-000000000000']],
      ['switched', ['']],
      ['pruned', ['r2-aaaaaaaaaaaa', 'r3-bbbbbbbbbbbb']],
      ['live', ['']],
      ['note', ['two words here']],
    ]);
  });
  test('empty output has no keys', () => {
    assert.equal(parseLines('').size, 0);
    assert.equal(parseLines('\n\n  \n').size, 0);
  });
});

describe('parseRsyncStats on real rsync output', () => {
  let src: string;
  let rsh: string;
  before(() => {
    src = join(tmp, 'stats-src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'big.bin'), randomBytes(1_234_567));
    writeFileSync(join(src, 'small.txt'), 'hello\n');
    writeFileSync(join(src, 'sub', 'c.txt'), 'c\n');
    // a "remote shell" that runs the server side locally: rsync pulls, as hosts do, with no network
    rsh = join(tmp, 'local-rsh');
    writeFileSync(rsh, '#!/bin/sh\nshift\nexec "$@"\n');
    chmodSync(rsh, 0o755);
  });

  function pull(dest: string): string {
    const r = spawnSync('rsync', ['-rlpt', '--delete', '--stats', '-e', rsh, `host:${src}/`, `${dest}/`], { env: { PATH: process.env.PATH, LC_ALL: 'C' } });
    assert.equal(r.status, 0, r.stderr.toString());
    return r.stdout.toString('utf8');
  }

  test('counts files transferred and bytes received, with thousands separators', () => {
    const dest = join(tmp, 'stats-dest');
    const out = pull(dest);
    assert.match(out, /Total bytes received: \d{1,3},\d{3},\d{3}/, 'rsync prints grouped numbers');
    const stats = parseRsyncStats(out);
    assert.equal(stats.files, 3);
    assert.ok(stats.bytes >= 1_234_567 + 9, `bytes ${stats.bytes}`);
    assert.ok(stats.bytes < 1_300_000, `bytes ${stats.bytes}`);
    const received = /Total bytes received: ([0-9,]+)/.exec(out)![1]!;
    assert.equal(stats.bytes, Number(received.replaceAll(',', '')));

    // nothing changed: nothing transferred, only the file list crosses
    const again = parseRsyncStats(pull(dest));
    assert.equal(again.files, 0);
    assert.ok(again.bytes < 1000, `bytes ${again.bytes}`);

    writeFileSync(join(src, 'small.txt'), 'changed\n');
    assert.equal(parseRsyncStats(pull(dest)).files, 1);
  });

  test('output without stats reads as zero', () => {
    assert.deepEqual(parseRsyncStats(''), { files: 0, bytes: 0 });
    assert.deepEqual(parseRsyncStats('live none\nstaged\n'), { files: 0, bytes: 0 });
  });
});

describe('switching a host (ACTIVATE then PRUNE), run by the real sh', () => {
  test('refuses a release that is not staged, and changes nothing', () => {
    const base = freshBase();
    const r1 = rel(1);
    const r = switchTo(base, r1, 5);
    assert.equal(r.status, 3);
    assert.match(r.stderr, new RegExp(`release ${releaseDir(r1)} is not staged on this host`));
    assert.ok(!existsSync(join(base, 'current')));
    assert.ok(!r.stdout.includes('switched'));
  });

  test('refuses a release dir without its record (an incomplete copy), keeping the live one', () => {
    const base = freshBase();
    const r1 = rel(1);
    const r2 = rel(2);
    staged(base, r1);
    assert.equal(switchTo(base, r1, 5).status, 0);
    mkdirSync(join(base, 'releases', releaseDir(r2)));
    const r = switchTo(base, r2, 5);
    assert.equal(r.status, 3);
    assert.equal(readlinkSync(join(base, 'current')), `releases/${releaseDir(r1)}`);
  });

  test('points current at the release with a relative link, and reports the previous one', () => {
    const base = freshBase();
    const r1 = rel(1);
    const r2 = rel(2);
    staged(base, r1);
    staged(base, r2);

    const first = switchTo(base, r1, 5);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(readlinkSync(join(base, 'current')), `releases/${releaseDir(r1)}`);
    assert.equal(readFileSync(join(base, 'current', 'index.html'), 'utf8'), '<h1>r1</h1>\n');
    assert.deepEqual(parseLines(first.stdout).get('previous'), ['']);
    assert.ok(parseLines(first.stdout).has('switched'));

    const second = switchTo(base, r2, 5);
    assert.equal(second.status, 0, second.stderr);
    assert.equal(readlinkSync(join(base, 'current')), `releases/${releaseDir(r2)}`);
    assert.deepEqual(parseLines(second.stdout).get('previous'), [releaseDir(r1)]);
    assert.equal(parseLines(second.stdout).get('pruned'), undefined);
    // no temporary link is left behind; the served log records both
    assert.deepEqual(readdirSync(base).sort(), ['.switched', 'current', 'releases']);
    assert.deepEqual(readFileSync(join(base, '.switched'), 'utf8').trim().split('\n'), [releaseDir(r1), releaseDir(r2)]);
  });

  test('switching to the live release again is harmless', () => {
    const base = freshBase();
    const r1 = rel(1);
    staged(base, r1);
    assert.equal(switchTo(base, r1, 1).status, 0);
    const again = switchTo(base, r1, 1);
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(parseLines(again.stdout).get('previous'), [releaseDir(r1)]);
    assert.equal(readlinkSync(join(base, 'current')), `releases/${releaseDir(r1)}`);
    assert.deepEqual(releasesIn(base), [releaseDir(r1)]);
  });

  test('prunes beyond keep, newest kept, by release number (r10 is newer than r9)', () => {
    const base = freshBase();
    const all = [1, 2, 3, 8, 9, 10, 11].map((n) => rel(n));
    for (const r of all) staged(base, r);
    const r11 = all.at(-1)!;
    const r = switchTo(base, r11, 3);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(releasesIn(base), [rel(10), rel(11), rel(9)].map(releaseDir).sort());
    assert.deepEqual(
      (parseLines(r.stdout).get('pruned') ?? []).sort(),
      [rel(1), rel(2), rel(3), rel(8)].map(releaseDir).sort(),
    );
  });

  test('prunes only the names Slipway makes: anything else in releases/ is left alone', () => {
    const base = freshBase();
    for (const n of [1, 2, 3]) staged(base, rel(n));
    const others = ['r1-abc', 'r1-0123456789abc', 'r2-0123456789aZ', 'r0-0123456789ab', 'rx-0123456789ab', 'notes', 'r-'];
    for (const name of others) mkdirSync(join(base, 'releases', name));
    const r = switchTo(base, rel(3), 1);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual((parseLines(r.stdout).get('pruned') ?? []).sort(), [rel(1), rel(2)].map(releaseDir).sort());
    for (const name of others) assert.ok(existsSync(join(base, 'releases', name)), `${name} is still there`);
  });

  test('never removes the live release, even when it is older than the ones kept', () => {
    const base = freshBase();
    const all = [1, 2, 3, 4, 5, 6].map((n) => rel(n));
    for (const r of all) staged(base, r);
    // roll back to r2 keeping 2: r2 is live, r6 was served just before it
    const r = switchTo(base, rel(2), 2);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readlinkSync(join(base, 'current')), `releases/${releaseDir(rel(2))}`);
    assert.deepEqual(releasesIn(base), [rel(2), rel(6)].map(releaseDir).sort());
    assert.ok(!(parseLines(r.stdout).get('pruned') ?? []).includes(releaseDir(rel(2))));

    // keep 1: only the live one is certain to stay
    const one = switchTo(base, rel(2), 1);
    assert.equal(one.status, 0, one.stderr);
    assert.ok(existsSync(join(base, 'current', 'index.html')));
    assert.ok(releasesIn(base).includes(releaseDir(rel(2))));
    assert.deepEqual(recordsIn(base), [`.${releaseDir(rel(2))}.rev`], 'a pruned release\'s record goes with it');
  });

  test('keeps what was served most recently, not the highest numbers: a deploy after a rollback keeps the release rolled back to', () => {
    const base = freshBase();
    for (const n of [1, 2, 3, 4, 5]) {
      staged(base, rel(n));
      assert.equal(switchTo(base, rel(n), 3).status, 0);
    }
    assert.equal(switchTo(base, rel(3), 3).status, 0, 'rollback to r3');
    staged(base, rel(6));
    const r = switchTo(base, rel(6), 3);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(releasesIn(base), [rel(3), rel(5), rel(6)].map(releaseDir).sort(), 'r3, served before r6, stays for the next rollback');
    assert.deepEqual(readFileSync(join(base, '.switched'), 'utf8').trim().split('\n'), [rel(5), rel(3), rel(6)].map(releaseDir));
  });

  test('leaves alone every name it did not create', () => {
    const base = freshBase();
    for (const n of [1, 2, 3, 4]) staged(base, rel(n));
    const foreign = [
      'notes.txt',
      'r5-short',
      'r6-ABCDEF012345',
      'r7-0123456789ab.bak',
      '.r8-0123456789ab.partial',
      'backup',
      'r9-0123456789abc',
      'x r1-0123456789ab',
    ];
    for (const name of foreign) {
      if (name.endsWith('.txt')) writeFileSync(join(base, 'releases', name), 'mine\n');
      else mkdirSync(join(base, 'releases', name));
    }
    writeFileSync(join(base, 'unrelated'), 'x');
    const r = switchTo(base, rel(4), 1);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(releasesIn(base), [...foreign, releaseDir(rel(4))].sort());
    assert.ok(existsSync(join(base, 'unrelated')));
  });

  test('a base path with spaces and shell syntax is used literally', () => {
    const base = join(tmp, "we'ird $(touch pwned) `x`", 'www');
    mkdirSync(join(base, 'releases'), { recursive: true });
    const r1 = rel(1);
    staged(base, r1);
    const r = switchTo(base, r1, 5);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readlinkSync(join(base, 'current')), `releases/${releaseDir(r1)}`);
    assert.ok(!existsSync(join(tmp, 'pwned')));
  });
});

describe('spare releases: what the look says the prune after a deploy would remove', () => {
  /** The look's spares for a deploy keeping `keep`, then what deploying a new release `next` prunes. */
  function sparesThenPruned(base: string, keep: number, next: Release): { spare: string[]; pruned: string[] } {
    const look = runRemote(lookCmd(base, undefined, keep), tmp, '');
    assert.equal(look.status, 0, look.stderr);
    const spare = [...(parseLook(look.stdout).spare ?? [])].sort();
    staged(base, next);
    const r = switchTo(base, next, keep);
    assert.equal(r.status, 0, r.stderr);
    return { spare, pruned: (parseLines(r.stdout).get('pruned') ?? []).sort() };
  }
  const deployed = (base: string, keep: number, ...ns: number[]) => {
    for (const n of ns) {
      if (!existsSync(join(base, 'releases', releaseDir(rel(n))))) staged(base, rel(n));
      assert.equal(switchTo(base, rel(n), keep).status, 0);
    }
  };

  test('a run of deploys: the oldest served ones, exactly', () => {
    const base = freshBase();
    deployed(base, 4, 1, 2, 3, 4, 5, 6);
    const { spare, pruned } = sparesThenPruned(base, 3, rel(7));
    assert.deepEqual(spare, [rel(3), rel(4)].map(releaseDir).sort());
    assert.deepEqual(spare, pruned);
  });

  test('after a rollback: never the release rolled back from, nor one served recently', () => {
    const base = freshBase();
    deployed(base, 5, 1, 2, 3, 4, 5, 3);
    const { spare, pruned } = sparesThenPruned(base, 3, rel(6));
    assert.ok(!spare.includes(releaseDir(rel(5))) && !spare.includes(releaseDir(rel(3))));
    assert.deepEqual(spare, pruned);
  });

  test('an attempt newer than the live release is never spare, though the prune after the deploy removes it', () => {
    const base = freshBase();
    deployed(base, 5, 1, 2, 3);
    staged(base, rel(4));
    const { spare, pruned } = sparesThenPruned(base, 2, rel(5));
    assert.deepEqual(spare, [rel(1), rel(2)].map(releaseDir));
    assert.deepEqual(pruned, [rel(1), rel(2), rel(4)].map(releaseDir), 'a spare is never more than the prune removes');
  });

  test('keep 1: every release but the live one', () => {
    const base = freshBase();
    deployed(base, 5, 1, 2, 3);
    const { spare, pruned } = sparesThenPruned(base, 1, rel(4));
    assert.deepEqual(spare, [rel(1), rel(2)].map(releaseDir).sort());
    assert.deepEqual(pruned, [rel(1), rel(2), rel(3)].map(releaseDir).sort(), 'the prune removes the release live before it too');
  });

  test('none on a host without the served log (from before it), nor without a live release, nor for a rollback look', () => {
    const base = freshBase();
    for (const n of [1, 2, 3]) staged(base, rel(n));
    assert.equal(parseLook(runRemote(lookCmd(base, undefined, 1), tmp, '').stdout).spare, undefined, 'no live release');
    symlinkSync(`releases/${releaseDir(rel(3))}`, join(base, 'current'));
    assert.equal(parseLook(runRemote(lookCmd(base, undefined, 1), tmp, '').stdout).spare, undefined, 'no served log');
    writeFileSync(join(base, '.switched'), `${releaseDir(rel(3))}\n`);
    assert.deepEqual([...(parseLook(runRemote(lookCmd(base, undefined, 1), tmp, '').stdout).spare ?? [])].sort(), [rel(1), rel(2)].map(releaseDir));
    assert.equal(parseLook(runRemote(lookCmd(base, releaseDir(rel(1))), tmp, '').stdout).spare, undefined, 'a rollback look names none');
  });

  test('the keep argument is a number of releases or refused', () => {
    assert.deepEqual(lookCmd('/data/www/demo', undefined, 5).slice(3), ['slipway-look', '/data/www/demo', '', '5']);
    for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => lookCmd('/a', undefined, bad), /not a number of releases to keep/, String(bad));
  });
});

describe('the STATUS script, run by the real sh', () => {
  test('no current release: "live" with nothing, exit 0', () => {
    const base = freshBase();
    const r = runRemote(statusCmd(base));
    assert.equal(r.status, 0);
    assert.deepEqual([...parseLines(r.stdout).entries()], [['live', ['']]]);
  });

  test('a missing base is not an error either', () => {
    const r = runRemote(statusCmd(join(tmp, 'no', 'such', 'base')));
    assert.equal(r.status, 0);
    assert.deepEqual(parseLines(r.stdout).get('live'), ['']);
  });

  test('after a switch: the live dir and its revision', () => {
    const base = freshBase();
    const r1 = rel(1);
    staged(base, r1);
    assert.equal(switchTo(base, r1, 5).status, 0);
    const lines = parseLines(runRemote(statusCmd(base)).stdout);
    assert.deepEqual(lines.get('live'), [releaseDir(r1)]);
    assert.deepEqual(lines.get('revision'), [r1.commit]);
    assert.equal(idOfDir(lines.get('live')?.[0]), 'r1');
  });
});

describe('reading the live release (every script), run by the real sh', () => {
  test('a dangling current names no live release: nothing would be served from it', () => {
    const base = freshBase();
    symlinkSync(`releases/${releaseDir(rel(4))}`, join(base, 'current'));
    assert.deepEqual(parseLines(runRemote(statusCmd(base)).stdout).get('live'), ['']);
    assert.deepEqual(parseLines(runRemote(lookCmd(base), tmp, '').stdout).get('live'), ['']);
  });

  test('a current that is a directory, not a link, is not a release of ours', () => {
    const base = freshBase();
    mkdirSync(join(base, 'current'));
    assert.deepEqual(parseLines(runRemote(statusCmd(base)).stdout).get('live'), ['']);
  });

  test('the link is resolved through a releases dir that is itself a symlink', () => {
    const host = join(tmp, `host${++counter}`);
    const base = join(host, 'www', 'app');
    mkdirSync(join(host, 'disk', 'releases'), { recursive: true });
    mkdirSync(base, { recursive: true });
    symlinkSync(join(host, 'disk', 'releases'), join(base, 'releases'));
    staged(base, rel(2));
    assert.equal(runRemote(activateCmd(base, releaseDir(rel(2)))).status, 0);
    assert.deepEqual(parseLines(runRemote(statusCmd(base)).stdout).get('live'), [releaseDir(rel(2))]);
  });

  test('a switch reports the release it replaced and still works in the base dir afterwards', () => {
    const base = freshBase();
    staged(base, rel(1));
    staged(base, rel(2));
    assert.equal(runRemote(activateCmd(base, releaseDir(rel(1)))).status, 0);
    const r = runRemote(activateCmd(base, releaseDir(rel(2))));
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(parseLines(r.stdout).get('previous'), [releaseDir(rel(1))]);
    assert.equal(readlinkSync(join(base, 'current')), `releases/${releaseDir(rel(2))}`);
    // the served log is written in base, not in the release dir the live one was read from
    assert.equal(readFileSync(join(base, '.switched'), 'utf8').trim().split('\n').pop(), releaseDir(rel(2)));
    assert.ok(!existsSync(join(base, 'releases', releaseDir(rel(1)), '.switched')));
  });
});

describe('the STAGE script, run by the real sh', () => {
  // STAGE pulls from the admin's rsync daemon through a forwarded port. Here "rsync"
  // is a wrapper that records its arguments, checks and drops the daemon-only ones,
  // and runs the real rsync from a local directory: the script's own logic (link-dest
  // choice, partial dir, rename, record) runs for real.
  let source: string;
  let wrapper: string;
  let argLog: string;

  before(() => {
    source = join(tmp, 'export');
    mkdirSync(join(source, 'css'), { recursive: true });
    writeFileSync(join(source, 'index.html'), '<h1>new</h1>\n');
    writeFileSync(join(source, 'css', 'site.css'), 'body{}\n');
    argLog = join(tmp, 'rsync-args.log');
    wrapper = join(tmp, 'fake-daemon-rsync');
    writeFileSync(
      wrapper,
      `#!/bin/sh
set -eu
log=${shellLine([argLog])}
src=${shellLine([`${source}/`])}
: > "$log"
for a in "$@"; do printf '%s\\n' "$a" >> "$log"; done
i=0
for a in "$@"; do
  i=$((i + 1))
  [ "$i" -eq 1 ] && set --
  case "$a" in
    --password-file=-|--contimeout=*) ;;
    rsync://*) set -- "$@" "$src" ;;
    *) set -- "$@" "$a" ;;
  esac
done
exec rsync "$@"
`,
    );
    chmodSync(wrapper, 0o755);
  });

  beforeEach(() => rmSync(argLog, { force: true }));

  function stage(base: string, release: Release) {
    // the deploy writes the rsync secret first on the stage command's stdin
    return runRemote(stageCmd(base, release, 40123, 29.5, wrapper), tmp, 'secret\n');
  }

  function loggedArgs(): string[] {
    return existsSync(argLog) ? readFileSync(argLog, 'utf8').split('\n').slice(0, -1) : [];
  }

  test('stages into a partial dir, renames it, writes its record beside it, and links against live and recent releases', () => {
    const base = freshBase();
    const [r1, r2, r3, r4] = [1, 2, 3, 4].map((n) => rel(n));
    // r1 is live; r2 is complete; r3 has no record (an incomplete copy, never used)
    const old = staged(base, r1!, { 'index.html': 'old\n', 'css/site.css': 'body{}\n' });
    // the same mtime to the nanosecond (the stage compares nanoseconds): touch -r, not utimes
    assert.equal(spawnSync('touch', ['-r', join(source, 'css', 'site.css'), join(old, 'css', 'site.css')]).status, 0);
    staged(base, r2!);
    mkdirSync(join(base, 'releases', releaseDir(r3!)));
    symlinkSync(`releases/${releaseDir(r1!)}`, join(base, 'current'));
    // a leftover of an interrupted run
    mkdirSync(join(base, 'releases', '.r9-0123456789ab.partial'));

    const r = stage(base, r4!);
    assert.equal(r.status, 0, r.stderr);
    const lines = parseLines(r.stdout);
    assert.deepEqual(lines.get('live'), [releaseDir(r1!)]);
    assert.ok(lines.has('staged'));

    const args = loggedArgs();
    assert.deepEqual(args, [
      '-rlpt',
      '--chmod=u+rw,go-w,go+rX',
      '--prune-empty-dirs',
      '--modify-window=-1',
      '--delete',
      '--stats',
      '--timeout=30',
      '--contimeout=30',
      `--link-dest=${base}/releases/${releaseDir(r1!)}`,
      `--link-dest=${base}/releases/${releaseDir(r2!)}`,
      '--password-file=-',
      `rsync://${RSYNC_USER}@127.0.0.1:40123/${MODULE}/`,
      `.${releaseDir(r4!)}.partial/tree/`,
    ]);

    const dir = join(base, 'releases', releaseDir(r4!));
    assert.equal(readFileSync(recordOf(dir), 'utf8'), `${r4!.commit}\n`);
    assert.equal(readFileSync(join(dir, 'index.html'), 'utf8'), '<h1>new</h1>\n');
    // an unchanged file is a hard link to the live release's copy, not a new file
    assert.equal(statSync(join(dir, 'css', 'site.css')).ino, statSync(join(old, 'css', 'site.css')).ino);
    assert.deepEqual(releasesIn(base), [r1!, r2!, r3!, r4!].map(releaseDir).sort(), 'no partial dir is left');
    // staging never touches what is served
    assert.equal(readlinkSync(join(base, 'current')), `releases/${releaseDir(r1!)}`);

    const stats = parseRsyncStats(r.stdout);
    assert.equal(stats.files, 1, 'only index.html crossed the wire');
  });

  test('a release already staged with the same revision is "present": rsync does not run', () => {
    const base = freshBase();
    const r1 = rel(1);
    staged(base, r1);
    const r = stage(base, r1);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(parseLines(r.stdout).get('live'), ['none']);
    assert.ok(parseLines(r.stdout).has('present'));
    assert.deepEqual(loggedArgs(), []);
  });

  test('a stale dir of the same name is replaced; the first stage creates releases/', () => {
    const base = join(tmp, `host${++counter}`, 'www', 'app');
    const r1 = rel(1);
    let r = stage(base, r1);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!loggedArgs().some((a) => a.startsWith('--link-dest')), 'nothing to link against on a new host');
    writeFileSync(recordOf(join(base, 'releases', releaseDir(r1))), 'something else\n');
    writeFileSync(join(base, 'releases', releaseDir(r1), 'stray'), 'x');
    r = stage(base, r1);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(parseLines(r.stdout).has('staged'));
    assert.ok(!existsSync(join(base, 'releases', releaseDir(r1), 'stray')));
    assert.equal(readFileSync(recordOf(join(base, 'releases', releaseDir(r1))), 'utf8'), `${r1.commit}\n`);
    assert.ok(!existsSync(join(base, 'releases', releaseDir(r1), 'REVISION')), 'nothing of Slipway\'s inside the release');
  });

  test('refuses to restage the live release when its record does not match', () => {
    const base = freshBase();
    const r1 = rel(1);
    const dir = staged(base, r1);
    symlinkSync(`releases/${releaseDir(r1)}`, join(base, 'current'));
    writeFileSync(recordOf(dir), 'tampered\n');
    const r = stage(base, r1);
    assert.equal(r.status, 3);
    assert.match(r.stderr, /refusing to restage/);
    assert.deepEqual(loggedArgs(), []);
    assert.equal(readFileSync(join(dir, 'index.html'), 'utf8'), '<h1>r1</h1>\n');
  });

  /** A tar of `dir`'s files as the admin node builds it (modes as git has them). */
  function tarOf(dir: string, paths: string[]): Buffer {
    const [program, ...args] = tarCmd(dir);
    const r = spawnSync(program!, args, { input: paths.map((p) => `${p}\0`).join('') });
    assert.equal(r.status, 0, r.stderr.toString());
    return r.stdout;
  }

  test('full: a host with no release unpacks the whole tree from stdin, with git modes and the private mode', () => {
    const base = freshBase();
    const r1 = { ...rel(1), privateFiles: ['conf/secret.py'] };
    const tree = join(tmp, 'full-src');
    mkdirSync(join(tree, 'conf'), { recursive: true });
    writeFileSync(join(tree, 'index.html'), 'hi\n', { mode: 0o600 });
    writeFileSync(join(tree, 'run.sh'), 'echo\n', { mode: 0o700 });
    writeFileSync(join(tree, 'conf', 'secret.py'), 'KEY=1\n', { mode: 0o664 });
    const r = runRemote(stageCmd(base, r1, 0, 30, '/bin/false', { payload: { kind: 'full' }, mode: 0o640 }), tmp, tarOf(tree, ['index.html', 'run.sh', 'conf/secret.py']));
    assert.equal(r.status, 0, r.stderr);
    assert.ok(parseLines(r.stdout).has('staged'));
    const dir = join(base, 'releases', releaseDir(r1));
    assert.equal(readFileSync(recordOf(dir), 'utf8').trim(), r1.commit);
    assert.equal(statSync(join(dir, 'index.html')).mode & 0o777, 0o644, 'a 0600 file arrives as git checks it out');
    assert.equal(statSync(join(dir, 'run.sh')).mode & 0o777, 0o755);
    assert.equal(statSync(join(dir, 'conf', 'secret.py')).mode & 0o777, 0o640, 'private files get the private mode');
    assert.deepEqual(releasesIn(base), [releaseDir(r1)], 'no partial or list file is left');
  });

  test('ahead: a tree sent before the commit is moved into place by the stage; another run\'s is never used', () => {
    const base = freshBase();
    const r1 = { ...rel(1), privateFiles: ['conf/secret.py'] };
    const tree = join(tmp, 'ahead-src');
    mkdirSync(join(tree, 'conf'), { recursive: true });
    writeFileSync(join(tree, 'index.html'), 'hi\n');
    writeFileSync(join(tree, 'conf', 'secret.py'), 'KEY=1\n');
    const tar = tarOf(tree, ['index.html', 'conf/secret.py']);
    // an older run left its tree behind: the next one replaces it
    assert.equal(runRemote(aheadCmd(base, 'aaaaaaaaaaaaaaaa'), tmp, tar).status, 0);
    const sent = runRemote(aheadCmd(base, 'bbbbbbbbbbbbbbbb'), tmp, tar);
    assert.equal(sent.status, 0, sent.stderr);
    assert.deepEqual(readdirSync(join(base, 'releases')), ['.ahead.bbbbbbbbbbbbbbbb.partial']);
    const wrong = runRemote(stageCmd(base, r1, 0, 30, '/bin/false', { payload: { kind: 'ahead', token: 'cccccccccccccccc' } }));
    assert.equal(wrong.status, FALL_BACK_TO_RSYNC, 'a token that is not there: stage again');
    assert.deepEqual(releasesIn(base), [], 'and the stray tree is gone');
    runRemote(aheadCmd(base, 'bbbbbbbbbbbbbbbb'), tmp, tar);
    const r = runRemote(stageCmd(base, r1, 0, 30, '/bin/false', { payload: { kind: 'ahead', token: 'bbbbbbbbbbbbbbbb' }, mode: 0o600 }));
    assert.equal(r.status, 0, r.stderr);
    assert.ok(parseLines(r.stdout).has('ahead'));
    const dir = join(base, 'releases', releaseDir(r1));
    assert.deepEqual(releasesIn(base), [releaseDir(r1)]);
    assert.equal(readFileSync(recordOf(dir), 'utf8').trim(), r1.commit);
    assert.equal(readFileSync(join(dir, 'index.html'), 'utf8'), 'hi\n');
    assert.equal(statSync(join(dir, 'conf', 'secret.py')).mode & 0o777, 0o600);
  });

  test('ahead: the token is ours (hex) or refused', () => {
    assert.throws(() => aheadCmd('/data/www/app', '../x'), /bad token/);
  });

  test('full: a broken tar fails the stage and leaves nothing', () => {
    const base = freshBase();
    const r = runRemote(stageCmd(base, rel(1), 0, 30, '/bin/false', { payload: { kind: 'full' } }), tmp, Buffer.from('not a tar at all'.repeat(100)));
    assert.notEqual(r.status, 0);
    assert.notEqual(r.status, FALL_BACK_TO_RSYNC);
    assert.deepEqual(releasesIn(base), []);
  });

  test('tar: a host whose base is not intact refuses the tar (exit 75) and stages nothing, for the admin to send rsync', () => {
    const base = freshBase();
    const [r1, r2] = [rel(1), rel(2)];
    const dir1 = staged(base, r1);
    writeFileSync(recordOf(dir1), 'something else\n');
    const tree = join(tmp, 'delta-src');
    mkdirSync(tree, { recursive: true });
    writeFileSync(join(tree, 'index.html'), 'v2\n');
    const r = runRemote(stageCmd(base, r2, 0, 30, '/bin/false', { payload: { kind: 'tar', from: r1, deleted: [] } }), tmp, tarOf(tree, ['index.html']));
    assert.equal(r.status, FALL_BACK_TO_RSYNC, r.stderr);
    assert.deepEqual(releasesIn(base), [releaseDir(r1)]);
  });

  test('tar: applies a delta on hard links of an intact base, which keeps its own files', () => {
    const base = freshBase();
    const [r1, r2] = [rel(1), rel(2)];
    const dir1 = staged(base, r1, { 'index.html': 'v1\n', 'keep.txt': 'same\n', 'old.txt': 'bye\n' });
    const tree = join(tmp, 'delta-src2');
    mkdirSync(tree, { recursive: true });
    writeFileSync(join(tree, 'index.html'), 'v2\n');
    const r = runRemote(stageCmd(base, r2, 0, 30, '/bin/false', { payload: { kind: 'tar', from: r1, deleted: ['old.txt'] } }), tmp, tarOf(tree, ['index.html']));
    assert.equal(r.status, 0, r.stderr);
    const dir2 = join(base, 'releases', releaseDir(r2));
    assert.equal(readFileSync(join(dir2, 'index.html'), 'utf8'), 'v2\n');
    assert.equal(readFileSync(join(dir1, 'index.html'), 'utf8'), 'v1\n', 'the base keeps its content');
    assert.ok(!existsSync(join(dir2, 'old.txt')) && existsSync(join(dir1, 'old.txt')));
    assert.equal(statSync(join(dir2, 'keep.txt')).ino, statSync(join(dir1, 'keep.txt')).ino, 'unchanged files are links');
  });

  test('tar with reuse: the delta is applied in the spare release\'s own tree, renamed into place; no other release changes', () => {
    const base = freshBase();
    const [r1, r2, r3] = [rel(1), rel(2), rel(3)];
    const dir1 = staged(base, r1, { 'index.html': 'v1\n', 'keep.txt': 'same\n', 'old.txt': 'bye\n' });
    const dir2 = join(base, 'releases', releaseDir(r2));
    cpSync(dir1, dir2, { recursive: true });
    writeFileSync(join(dir2, 'index.html.tmp'), 'v2\n');
    renameSync(join(dir2, 'index.html.tmp'), join(dir2, 'index.html'));
    for (const f of ['keep.txt', 'old.txt']) {
      rmSync(join(dir2, f));
      linkSync(join(dir1, f), join(dir2, f));
    }
    writeManifest(dir2);
    writeFileSync(recordOf(dir2), `${r2.commit}\n`);
    symlinkSync(`releases/${releaseDir(r2)}`, join(base, 'current'));
    writeFileSync(join(base, '.switched'), `${releaseDir(r1)}\n${releaseDir(r2)}\n`);
    const inode = statSync(join(dir1, 'keep.txt')).ino;
    const tree = join(tmp, `delta-src-reuse${++counter}`);
    mkdirSync(tree, { recursive: true });
    writeFileSync(join(tree, 'index.html'), 'v3\n');
    const r = runRemote(stageCmd(base, r3, 0, 30, '/bin/false', { payload: { kind: 'tar', from: r1, deleted: ['old.txt'], reuse: true } }), tmp, tarOf(tree, ['index.html']));
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(parseLines(r.stdout).get('reused'), [releaseDir(r1)]);
    assert.deepEqual(releasesIn(base), [r2, r3].map(releaseDir), 'the spare became the new release');
    assert.deepEqual(recordsIn(base), [r2, r3].map((x) => `.${releaseDir(x)}.rev`), 'its record went with it');
    assert.ok(!existsSync(join(base, 'releases', `.${releaseDir(r1)}.manifest`)));
    assert.equal(readFileSync(join(base, '.switched'), 'utf8'), `${releaseDir(r2)}\n`, 'nor is it in the served log');
    const dir3 = join(base, 'releases', releaseDir(r3));
    assert.deepEqual(readdirSync(dir3).sort(), ['index.html', 'keep.txt']);
    assert.equal(readFileSync(join(dir3, 'index.html'), 'utf8'), 'v3\n');
    assert.equal(statSync(join(dir3, 'keep.txt')).ino, inode, 'unchanged files keep their inode, shared with the live release');
    assert.equal(readFileSync(join(dir2, 'index.html'), 'utf8'), 'v2\n', 'the live release keeps its content');
    assert.equal(readFileSync(join(dir2, 'old.txt'), 'utf8'), 'bye\n', 'and its files the delta deleted');
    assert.equal(readFileSync(recordOf(dir3), 'utf8').trim(), r3.commit);
    assert.equal(runRemote(lookCmd(base, releaseDir(r3)), tmp, '').stdout.includes(`have ${releaseDir(r3)} ${r3.commit}\n`), true, 'its manifest matches it');
  });

  test('tar with reuse of the live release: refused (exit 75), and the live release is untouched', () => {
    const base = freshBase();
    const [r1, r2] = [rel(1), rel(2)];
    const dir1 = staged(base, r1, { 'index.html': 'v1\n' });
    symlinkSync(`releases/${releaseDir(r1)}`, join(base, 'current'));
    const tree = join(tmp, `delta-src-live${++counter}`);
    mkdirSync(tree, { recursive: true });
    writeFileSync(join(tree, 'index.html'), 'v2\n');
    const r = runRemote(stageCmd(base, r2, 0, 30, '/bin/false', { payload: { kind: 'tar', from: r1, deleted: [], reuse: true } }), tmp, tarOf(tree, ['index.html']));
    assert.equal(r.status, FALL_BACK_TO_RSYNC, r.stderr);
    assert.deepEqual(releasesIn(base), [releaseDir(r1)]);
    assert.equal(readFileSync(join(dir1, 'index.html'), 'utf8'), 'v1\n');
    assert.ok(existsSync(recordOf(dir1)));
    assert.equal(readlinkSync(join(base, 'current')), `releases/${releaseDir(r1)}`);
  });

  test('tar with reuse of an edited spare: refused (exit 75) before anything moves', () => {
    const base = freshBase();
    const [r1, r2, r3] = [rel(1), rel(2), rel(3)];
    const dir1 = staged(base, r1, { 'index.html': 'v1\n' });
    staged(base, r2, { 'index.html': 'v2\n' });
    symlinkSync(`releases/${releaseDir(r2)}`, join(base, 'current'));
    writeFileSync(join(dir1, 'index.html'), 'edited by hand\n');
    const tree = join(tmp, `delta-src-edited${++counter}`);
    mkdirSync(tree, { recursive: true });
    writeFileSync(join(tree, 'index.html'), 'v3\n');
    const r = runRemote(stageCmd(base, r3, 0, 30, '/bin/false', { payload: { kind: 'tar', from: r1, deleted: [], reuse: true } }), tmp, tarOf(tree, ['index.html']));
    assert.equal(r.status, FALL_BACK_TO_RSYNC, r.stderr);
    assert.deepEqual(releasesIn(base), [r1, r2].map(releaseDir));
    assert.equal(readFileSync(join(dir1, 'index.html'), 'utf8'), 'edited by hand\n');
  });

  test('rsync: the pulled tree gets git modes too', () => {
    const base = freshBase();
    const r1 = rel(1);
    chmodSync(join(source, 'index.html'), 0o600);
    try {
      const r = stage(base, r1);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(statSync(join(base, 'releases', releaseDir(r1), 'index.html')).mode & 0o777, 0o644);
    } finally {
      chmodSync(join(source, 'index.html'), 0o644);
    }
  });

  test('a failing rsync fails the stage and leaves no release dir', () => {
    const base = freshBase();
    const r1 = rel(1);
    const r = runRemote(stageCmd(base, r1, 40123, 30, '/bin/false'));
    assert.notEqual(r.status, 0);
    assert.ok(!parseLines(r.stdout).has('staged'));
    assert.ok(!existsSync(join(base, 'releases', releaseDir(r1))));
  });

  describe('a hostile tree: nothing is written outside the release', () => {
    /** A dir outside every release that the tree's symlinks point at, with one file. */
    function sentinel(): string {
      const dir = join(tmp, `sentinel${++counter}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'keep'), 'untouched\n');
      return dir;
    }
    const unchanged = (dir: string) => {
      assert.deepEqual(readdirSync(dir), ['keep'], 'nothing created outside the release');
      assert.equal(readFileSync(join(dir, 'keep'), 'utf8'), 'untouched\n', 'nothing written through a symlink');
    };

    for (const target of ['absolute', 'relative']) {
      test(`tar delta: a symlink of the base (${target}) that becomes a dir is removed before the new files are written`, () => {
        const base = freshBase();
        const out = sentinel();
        const [r1, r2] = [rel(1), rel(2)];
        const dir1 = staged(base, r1);
        symlinkSync(target === 'absolute' ? out : join('..', '..', '..', '..', '..', basename(out)), join(dir1, 'docs'));
        writeManifest(dir1); // the symlink is part of r1 as staged
        assert.deepEqual(readdirSync(join(dir1, 'docs')), ['keep'], 'the fixture points where it should');
        const tree = join(tmp, `retyped${counter}`);
        mkdirSync(join(tree, 'docs'), { recursive: true });
        writeFileSync(join(tree, 'docs', 'a.txt'), 'new\n');
        const r = runRemote(stageCmd(base, r2, 0, 30, '/bin/false', { payload: { kind: 'tar', from: r1, deleted: ['docs'] } }), tmp, tarOf(tree, ['docs/a.txt']));
        assert.equal(r.status, 0, r.stderr);
        unchanged(out);
        const dir2 = join(base, 'releases', releaseDir(r2));
        assert.ok(lstatSync(join(dir2, 'docs')).isDirectory());
        assert.equal(readFileSync(join(dir2, 'docs', 'a.txt'), 'utf8'), 'new\n');
        assert.ok(lstatSync(join(dir1, 'docs')).isSymbolicLink(), 'the base keeps its symlink');
      });
    }

    test('tar delta: a dir that becomes a file, and a file that becomes a dir', () => {
      const base = freshBase();
      const [r1, r2] = [rel(1), rel(2)];
      const dir1 = staged(base, r1, { 'a/x': 'x\n', b: 'b\n' });
      const tree = join(tmp, `swapped${++counter}`);
      mkdirSync(join(tree, 'b'), { recursive: true });
      writeFileSync(join(tree, 'a'), 'a file\n');
      writeFileSync(join(tree, 'b', 'y'), 'y\n');
      const r = runRemote(stageCmd(base, r2, 0, 30, '/bin/false', { payload: { kind: 'tar', from: r1, deleted: ['a/x', 'b'] } }), tmp, tarOf(tree, ['a', 'b/y']));
      assert.equal(r.status, 0, r.stderr);
      const dir2 = join(base, 'releases', releaseDir(r2));
      assert.equal(readFileSync(join(dir2, 'a'), 'utf8'), 'a file\n');
      assert.equal(readFileSync(join(dir2, 'b', 'y'), 'utf8'), 'y\n');
      assert.equal(readFileSync(join(dir1, 'a', 'x'), 'utf8'), 'x\n');
    });

    test('a symlink named like the private file\'s old temporary copy is left alone: the secret goes nowhere else', () => {
      const base = freshBase();
      const out = sentinel();
      const r1 = { ...rel(1), privateFiles: ['conf/secret.py'] };
      const tree = join(tmp, `tmpname${++counter}`);
      mkdirSync(join(tree, 'conf'), { recursive: true });
      writeFileSync(join(tree, 'conf', 'secret.py'), 'KEY=1\n');
      symlinkSync(join(out, 'keep'), join(tree, 'conf', 'secret.py.slipway-tmp'));
      const r = runRemote(stageCmd(base, r1, 0, 30, '/bin/false', { payload: { kind: 'full' }, mode: 0o600 }), tmp, tarOf(tree, ['conf/secret.py', 'conf/secret.py.slipway-tmp']));
      assert.equal(r.status, 0, r.stderr);
      unchanged(out);
      const dir = join(base, 'releases', releaseDir(r1));
      assert.equal(statSync(join(out, 'keep')).mode & 0o777, 0o644, 'no chmod through the link');
      assert.equal(lstatSync(join(dir, 'conf', 'secret.py')).mode & 0o777, 0o600);
      assert.equal(readlinkSync(join(dir, 'conf', 'secret.py.slipway-tmp')), join(out, 'keep'));
    });

    test('a REVISION of the repository is part of the release; the commit is recorded beside it', () => {
      const base = freshBase();
      const r1 = rel(1);
      const tree = join(tmp, `revision${++counter}`);
      mkdirSync(tree);
      writeFileSync(join(tree, 'REVISION'), 'the repository\'s own\n');
      const r = runRemote(stageCmd(base, r1, 0, 30, '/bin/false', { payload: { kind: 'full' } }), tmp, tarOf(tree, ['REVISION']));
      assert.equal(r.status, 0, r.stderr);
      const dir = join(base, 'releases', releaseDir(r1));
      assert.equal(readFileSync(join(dir, 'REVISION'), 'utf8'), 'the repository\'s own\n');
      assert.ok(holds(parseLook(runRemote(lookCmd(base), tmp, '').stdout), r1));
      symlinkSync(`releases/${releaseDir(r1)}`, join(base, 'current'));
      assert.deepEqual(parseLines(runRemote(statusCmd(base)).stdout).get('revision'), [r1.commit]);
    });

    test('a host staged by an older Slipway (REVISION inside): its releases are held and switched to, never a delta\'s base', () => {
      const base = freshBase();
      const [r1, r2] = [rel(1), rel(2)];
      staged(base, r1, undefined, true);
      symlinkSync(`releases/${releaseDir(r1)}`, join(base, 'current'));
      const state = parseLook(runRemote(lookCmd(base), tmp, '').stdout);
      assert.ok(holds(state, r1));
      assert.deepEqual(parseLines(runRemote(statusCmd(base)).stdout).get('revision'), [r1.commit]);
      const tree = join(tmp, `legacy${++counter}`);
      mkdirSync(tree);
      writeFileSync(join(tree, 'index.html'), 'v2\n');
      const r = runRemote(stageCmd(base, r2, 0, 30, '/bin/false', { payload: { kind: 'tar', from: r1, deleted: [] } }), tmp, tarOf(tree, ['index.html']));
      assert.equal(r.status, FALL_BACK_TO_RSYNC, 'its tree holds a REVISION its commit lacks: pulled whole instead');
      assert.equal(switchTo(base, r1, 5).status, 0);
    });

    test('while a release is staged, its private files are never readable by others: the dir it is built in is root\'s alone', async () => {
      const base = freshBase();
      const r1 = { ...rel(1), privateFiles: ['conf/secret.py'] };
      const tree = join(tmp, `slow${++counter}`);
      mkdirSync(join(tree, 'conf'), { recursive: true });
      writeFileSync(join(tree, 'conf', 'secret.py'), 'KEY=1\n');
      writeFileSync(join(tree, 'z.bin'), randomBytes(256 * 1024));
      const tar = tarOf(tree, ['conf/secret.py', 'z.bin']);
      const child = spawn('/bin/sh', ['-c', shellLine(stageCmd(base, r1, 0, 30, '/bin/false', { payload: { kind: 'full' }, mode: 0o640 }))], { stdio: ['pipe', 'pipe', 'pipe'] });
      const done = new Promise<number | null>((resolve) => child.on('close', resolve));
      try {
        // the secret and part of the next file, then the stage waits on its input
        child.stdin.write(tar.subarray(0, 64 * 1024));
        const work = join(base, 'releases', `.${releaseDir(r1)}.partial`);
        const deadline = Date.now() + 20_000;
        const found = () => readdirSync(join(base, 'releases'), { recursive: true }).some((p) => String(p).endsWith('secret.py'));
        while (!existsSync(join(base, 'releases')) || !found()) {
          assert.ok(Date.now() < deadline, 'the stage unpacks the private file');
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        assert.equal(statSync(work).mode & 0o777, 0o700, 'built where only root can reach it');
        for (const entry of readdirSync(join(base, 'releases'))) {
          assert.equal(statSync(join(base, 'releases', entry)).mode & 0o077, 0, `${entry}: nothing in releases/ is open to others while staging`);
        }
        child.stdin.end(tar.subarray(64 * 1024));
        assert.equal(await done, 0);
      } finally {
        child.kill();
      }
      const dir = join(base, 'releases', releaseDir(r1));
      assert.equal(statSync(dir).mode & 0o777, 0o755, 'the release gets its final mode once in place');
      assert.equal(statSync(join(dir, 'conf', 'secret.py')).mode & 0o777, 0o640);
    });
  });
});

describe('the look script (look, then switch when told), run by the real sh', () => {
  test('lists the live release and every release dir with its record; nothing else', () => {
    const base = freshBase();
    const [r1, r2, r3] = [rel(1), rel(2), rel(3)];
    staged(base, r1);
    staged(base, r2);
    mkdirSync(join(base, 'releases', releaseDir(r3)));
    mkdirSync(join(base, 'releases', 'r9-not-ours'));
    mkdirSync(join(base, 'releases', `.${releaseDir(r3)}.partial`));
    symlinkSync(`releases/${releaseDir(r2)}`, join(base, 'current'));
    const r = runRemote(lookCmd(base), tmp, '');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\nready\n$/);
    const state = parseLook(r.stdout);
    assert.equal(state.live, releaseDir(r2));
    assert.deepEqual([...state.have.keys()].sort(), [releaseDir(r1), releaseDir(r2)]);
    assert.ok(holds(state, r1) && holds(state, r2) && !holds(state, r3));
    assert.ok(!holds(state, { id: 'r1', commit: commitFor(99) }), 'a dir is held only with the right record');
    assert.equal(readlinkSync(join(base, 'current')), `releases/${releaseDir(r2)}`, 'no input: nothing switched');
  });

  test('a host with nothing yet (no base dir) has no live release and holds nothing', () => {
    const r = runRemote(lookCmd(join(tmp, 'nowhere', 'app')), tmp, '');
    assert.equal(r.status, 0, r.stderr);
    const state = parseLook(r.stdout);
    assert.equal(state.live, undefined);
    assert.equal(state.have.size, 0);
    assert.ok(r.stdout.endsWith('ready\n'));
  });

  test('switches to the release dir it is sent, as ACTIVATE does, and says so after `ready`', () => {
    const base = freshBase();
    const [r1, r2] = [rel(1), rel(2)];
    staged(base, r1);
    symlinkSync(`releases/${releaseDir(r1)}`, join(base, 'current'));
    // staged after the look, as a deploy does
    const look = runRemote(lookCmd(base), tmp, `${releaseDir(r2)}\n`);
    assert.equal(look.status, 3, 'not staged yet: refused');
    assert.equal(readlinkSync(join(base, 'current')), `releases/${releaseDir(r1)}`);
    staged(base, r2);
    const r = runRemote(lookCmd(base), tmp, `${releaseDir(r2)}\n`);
    assert.equal(r.status, 0, r.stderr);
    const after = r.stdout.slice(r.stdout.indexOf('ready\n') + 6);
    assert.deepEqual(parseLines(after).get('previous'), [releaseDir(r1)]);
    assert.ok(parseLines(after).has('switched'));
    assert.equal(readlinkSync(join(base, 'current')), `releases/${releaseDir(r2)}`);
    assert.equal(readFileSync(join(base, '.switched'), 'utf8').trim().split('\n').pop(), releaseDir(r2));
  });

  test('refuses anything but a release dir name, and changes nothing', () => {
    const base = freshBase();
    const r1 = rel(1);
    staged(base, r1);
    symlinkSync(`releases/${releaseDir(r1)}`, join(base, 'current'));
    mkdirSync(join(base, 'elsewhere'));
    writeFileSync(join(base, 'elsewhere', 'REVISION'), 'x\n');
    for (const bad of ['../elsewhere', '.', '..', '/etc', 'releases/../../elsewhere', '']) {
      const r = runRemote(lookCmd(base), tmp, `${bad}\n`);
      assert.equal(r.status, 2, `${JSON.stringify(bad)}: ${r.stderr}`);
      assert.equal(readlinkSync(join(base, 'current')), `releases/${releaseDir(r1)}`);
    }
  });
});
