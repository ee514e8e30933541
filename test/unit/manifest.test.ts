/**
 * The manifest recorded beside each release on a host, and the checks made against it
 * (common.sh's manifest and verify, the look, the forget script), run by the real sh.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { shellLine } from '../../src/exec/cmd.js';
import { SCRIPTS_DIR, forgetCmd, lookCmd } from '../../src/deploy/remote.js';
import { parseKept, parseLines, parseLook, describeKept } from '../../src/deploy/remote-output.js';

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'slipway-manifest-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const common = () => readFileSync(join(SCRIPTS_DIR, 'common.sh'), 'utf8');

/** Run shell text after common.sh, with base set. */
function sh(base: string, text: string, ...args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync('/bin/sh', ['-c', `${common()}\nbase=$1; shift\n${text}`, 'test', base, ...args], { env: { PATH: process.env.PATH } });
  return { stdout: r.stdout.toString(), stderr: r.stderr.toString(), status: r.status };
}

let n = 0;
/** A host base with release dirs r<i>-<12 hex>, each with its record and manifest, sharing index.html by a hard link as a deploy does. */
function host(count: number, live?: number): { base: string; dirs: string[] } {
  const base = join(tmp, `host${++n}`);
  mkdirSync(join(base, 'releases'), { recursive: true });
  const dirs: string[] = [];
  // staged a while ago, as on a real host: the tree's times, then its manifest's, in the past. One
  // time for every release: they share files by hard links, and a later touch of a shared file
  // with another second would be an edit of the releases staged before it
  const past = Math.floor(Date.now() / 1000) - 120;
  for (let i = 1; i <= count; i++) {
    const dir = `r${i}-${String(i).repeat(12)}`;
    const path = join(base, 'releases', dir);
    if (i === 1) {
      mkdirSync(join(path, 'css'), { recursive: true });
      writeFileSync(join(path, 'index.html'), '<h1>shop</h1>\n');
      writeFileSync(join(path, 'css', 'odd\nname\twith tab.css'), 'body{}\n');
      symlinkSync('index.html', join(path, 'home.html'));
    } else {
      assert.equal(spawnSync('cp', ['-al', join(base, 'releases', dirs[0]!), path]).status, 0);
      writeFileSync(join(path, `only-r${i}.txt`), `${i}\n`);
    }
    const recorded = sh(base, 'find "$base/releases/$1" -exec touch -h -d "@$2" {} + && manifest "$base/releases/$1" > "$base/releases/.$1.manifest" && touch -d "@$3" "$base/releases/.$1.manifest"', dir, String(past), String(past + 60));
    assert.equal(recorded.status, 0, recorded.stderr);
    writeFileSync(join(base, 'releases', `.${dir}.rev`), `${String(i).repeat(40)}\n`);
    dirs.push(dir);
  }
  if (live) symlinkSync(`releases/${dirs[live - 1]}`, join(base, 'current'));
  return { base, dirs };
}

const verify = (base: string, dir: string) => sh(base, 'verify "$1"; printf %s "$bad"', dir).stdout;

describe('manifest and verify', () => {
  test('an untouched release verifies: 0 paths differ, names with newlines and tabs included', () => {
    const { base, dirs } = host(1);
    assert.equal(verify(base, dirs[0]!), '0');
    const records = readFileSync(join(base, 'releases', `.${dirs[0]}.manifest`), 'utf8').split('\0').filter(Boolean);
    assert.ok(records.some((r) => r.startsWith('f\t7\t') && r.endsWith('\tcss/odd\nname\twith tab.css\t')), 'the odd name, whole');
    assert.ok(records.some((r) => /^l\t10\t[0-9.]+\thome\.html\tindex\.html$/.test(r)), 'a symlink with its target');
    assert.ok(records.includes('d\t\t\tcss\t'), 'a directory by name only');
  });

  test('an append to a file shared by hard links shows in every release that holds it', () => {
    const { base, dirs } = host(3);
    appendFileSync(join(base, 'releases', dirs[2]!, 'index.html'), '<!-- hotfix -->\n');
    for (const d of dirs) assert.equal(verify(base, d), '1', d);
  });

  test('added, removed, replaced and relinked paths each count once', () => {
    const { base, dirs } = host(1);
    const d = join(base, 'releases', dirs[0]!);
    writeFileSync(join(d, 'stray.php'), '<?php\n');
    rmSync(join(d, 'css', 'odd\nname\twith tab.css'));
    rmSync(join(d, 'home.html'));
    symlinkSync('css', join(d, 'home.html'));
    writeFileSync(join(d, 'index.tmp'), '<h1>shop</h1>\n');
    renameSync(join(d, 'index.tmp'), join(d, 'index.html'));
    assert.equal(verify(base, dirs[0]!), '4');
  });

  test('a release without a manifest (an older Slipway) cannot be verified: nothing', () => {
    const { base, dirs } = host(1);
    rmSync(join(base, 'releases', `.${dirs[0]}.manifest`));
    assert.equal(verify(base, dirs[0]!), '');
  });
});

describe('the look and the forget script', () => {
  test('the look lists the release it is asked to check only if it matches its manifest; the live one always', () => {
    const { base, dirs } = host(4, 3);
    appendFileSync(join(base, 'releases', dirs[3]!, 'only-r4.txt'), 'edited\n');
    appendFileSync(join(base, 'releases', dirs[2]!, 'index.html'), 'edited\n'); // the live one, shared with r1 and r2
    rmSync(join(base, 'releases', `.${dirs[1]}.manifest`));
    const look = (verify?: string) => parseLook(spawnSync('/bin/sh', ['-c', shellLine(lookCmd(base, verify))], { input: '', env: { PATH: process.env.PATH } }).stdout.toString());
    // each edited or unverifiable release, asked for, is `edited`; the others stay unchecked
    assert.deepEqual(look(dirs[0]).edited, [{ dir: dirs[0], differ: 1 }], 'r1 holds the live one\'s edited index.html');
    assert.deepEqual(look(dirs[1]).edited, [{ dir: dirs[1] }], 'r2 has no manifest');
    const r4 = look(dirs[3]);
    assert.deepEqual(r4.edited, [{ dir: dirs[3], differ: 2 }], 'r4: its own edit and the shared index.html');
    assert.deepEqual([...r4.have.keys()].sort(), [dirs[0], dirs[1], dirs[2]].sort());
    assert.deepEqual([...(r4.unchecked ?? [])].sort(), [dirs[0], dirs[1]].sort());
    // the live release is listed as it is, checked or not
    assert.deepEqual([...look(dirs[2]).have.keys()].sort(), [...dirs].sort());
    assert.equal(look(dirs[2]).edited, undefined);
    // a deploy's look checks nothing: every kept release is listed unchecked, for the stage script to check if it is needed
    const quick = look();
    assert.deepEqual([...quick.have.keys()].sort(), [...dirs].sort());
    assert.deepEqual([...(quick.unchecked ?? [])].sort(), [dirs[0], dirs[1], dirs[3]].sort());
    assert.equal(quick.edited, undefined);
  });

  test('forget removes each edited non-live release with its record and manifest, and nothing else', () => {
    const { base, dirs } = host(4, 3);
    appendFileSync(join(base, 'releases', dirs[3]!, 'only-r4.txt'), 'edited\n');
    appendFileSync(join(base, 'releases', dirs[2]!, 'index.html'), 'edited\n');
    rmSync(join(base, 'releases', `.${dirs[1]}.manifest`));
    const r = spawnSync('/bin/sh', ['-c', shellLine(forgetCmd(base))], { env: { PATH: process.env.PATH } });
    assert.equal(r.status, 0, r.stderr.toString());
    assert.deepEqual(parseKept(parseLines(r.stdout.toString()).get('forgot') ?? []), [{ dir: dirs[0], differ: 1 }, { dir: dirs[3], differ: 2 }]);
    for (const d of [dirs[0]!, dirs[3]!]) for (const p of [d, `.${d}.rev`, `.${d}.manifest`]) assert.ok(!existsSync(join(base, 'releases', p)), p);
    assert.ok(existsSync(join(base, 'releases', dirs[1]!)), 'no manifest: left for a rollback to restage');
    assert.ok(existsSync(join(base, 'releases', dirs[2]!)), 'the live one: repaired by sync, never removed');
  });
});

describe('parseKept and describeKept', () => {
  test('reads `<dir> <n|unverifiable>` and skips anything else', () => {
    assert.deepEqual(parseKept(['r3-0123456789ab 2', 'r1-0123456789ab unverifiable', 'r2-0123456789ab', 'nope 3', '../x 1', 'r4-0123456789ab 2x']), [
      { dir: 'r3-0123456789ab', differ: 2 },
      { dir: 'r1-0123456789ab' },
    ]);
  });
  test('says how many files differ, or why it cannot tell', () => {
    assert.equal(describeKept({ differ: 2 }), 'had been edited by hand (2 files differ)');
    assert.equal(describeKept({ differ: 1 }), 'had been edited by hand (1 file differs)');
    assert.match(describeKept({}), /no manifest/);
  });
});
