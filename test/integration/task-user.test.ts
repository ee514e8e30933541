/**
 * The task user races Slipway while it lends the checkout and takes it back: a
 * process running as that user swaps every directory it has just been lent for
 * a symlink to a root-owned directory outside the checkout. Nothing outside the
 * checkout may change owner, and once taken back, nothing in the checkout is
 * the user's or writable by anyone but root. Needs root (chown).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lendCheckout, lookupUser, type TaskUser } from '../../src/update/task-user.js';
import { waitFor } from '../support/safety.js';

const USER = 'slipwaytask';
const DIRS = 150;
const FILES = 20;
const ROUNDS = 4;

/**
 * Runs as the task user until `stop` exists: for each dN/sub it may write, moves it
 * aside (writable by all) and puts a symlink to the sentinel in its place; counts
 * its swaps in `swaps`.
 */
const SWAPPER = `
const fs = require('node:fs');
const [checkout, sentinel, stop, swaps] = process.argv.slice(1);
let n = 0;
for (let i = 0; !fs.existsSync(stop); i++) {
  for (let d = 0; d < ${DIRS}; d++) {
    const sub = checkout + '/d' + d + '/sub';
    try {
      if (!fs.lstatSync(sub).isDirectory()) continue;
      fs.rmSync(sub + '.lnk', { force: true });
      fs.symlinkSync(sentinel, sub + '.lnk');
      fs.renameSync(sub, sub + '.' + i);
      fs.renameSync(sub + '.lnk', sub);
      fs.chmodSync(sub + '.' + i, 0o2777);
      n++;
    } catch {}
  }
  if (i % 50 === 0) fs.writeFileSync(swaps, String(n));
}
fs.writeFileSync(swaps, String(n));
`;

/**
 * Gives each directory named a default and an access ACL that grant the task user
 * rwx (what setfacl -m u:ID:rwx,d:u:ID:rwx does; perl comes with git, setfacl may not).
 */
const SET_ACL = `
require 'syscall.ph';
my $id = shift @ARGV;
my $acl = pack('V', 2) . join('', map { pack('vvV', @$_) } ([1, 7, 0xffffffff], [2, 7, $id], [4, 5, 0xffffffff], [0x10, 7, 0xffffffff], [0x20, 5, 0xffffffff]));
for my $path (@ARGV) {
  for my $name ('system.posix_acl_default', 'system.posix_acl_access') {
    my ($p, $n) = ($path, $name);
    syscall(&SYS_setxattr, $p, $n, $acl, length($acl), 0) == 0 or die "$p: $!\n";
  }
}
`;

/** Every path under dir (not following links) with its owner and mode. */
function owners(dir: string): { path: string; uid: number; mode: number; link: boolean }[] {
  const out: { path: string; uid: number; mode: number; link: boolean }[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    out.push({ path, uid: st.uid, mode: st.mode, link: st.isSymbolicLink() });
    if (st.isDirectory()) out.push(...owners(path));
  }
  return out;
}

describe('the task user racing the lending of the checkout', { timeout: 300_000 }, () => {
  let base: string;
  let sentinel: string;
  let user: TaskUser;

  before(async () => {
    execFileSync('sh', ['-c', `id ${USER} >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin ${USER}`]);
    user = await lookupUser(USER);
    base = mkdtempSync(join(tmpdir(), 'slipway-taskuser-'));
    chmodSync(base, 0o755);
    sentinel = join(base, 'sentinel');
    mkdirSync(sentinel, { mode: 0o755 });
    for (let f = 0; f < FILES; f++) writeFileSync(join(sentinel, `f${f}`), 'root only\n', { mode: 0o600 });
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  /** A checkout of DIRS directories, each with a sub-directory of FILES files, all root's. */
  const makeCheckout = (round: number): string => {
    const checkout = join(base, `checkout${round}`);
    mkdirSync(join(checkout, '.git'), { recursive: true });
    for (let d = 0; d < DIRS; d++) {
      mkdirSync(join(checkout, `d${d}`, 'sub'), { recursive: true });
      for (let f = 0; f < FILES; f++) writeFileSync(join(checkout, `d${d}`, 'sub', `f${f}`), 'x\n');
    }
    return checkout;
  };

  const startSwapper = (checkout: string, round: number): { child: ChildProcess; stop: string; swaps: string } => {
    const stop = join(base, `stop${round}`);
    const swaps = join(base, `swaps${round}`);
    writeFileSync(swaps, '0');
    chmodSync(swaps, 0o666);
    const child = spawn(process.execPath, ['-e', SWAPPER, checkout, sentinel, stop, swaps], { uid: user.uid, gid: user.gid, stdio: 'ignore' });
    return { child, stop, swaps };
  };

  it(`in ${ROUNDS} rounds, lending and taking back never chown anything outside the checkout`, async () => {
    let swapped = 0;
    const failures: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const checkout = makeCheckout(round);
      const swapper = startSwapper(checkout, round);
      const exited = new Promise((r) => swapper.child.once('exit', r));
      const failed = failures.length;
      try {
        const takeBack = await lendCheckout(checkout, user);
        // the user's process keeps swapping while everything is taken back
        await takeBack();
      } catch (err) {
        failures.push(`round ${round}: ${(err as Error).message}`);
      } finally {
        writeFileSync(swapper.stop, '');
        await exited;
      }
      swapped += Number(execFileSync('cat', [swapper.swaps], { encoding: 'utf8' }));
      for (const e of owners(sentinel)) assert.equal(e.uid, 0, `round ${round}: ${e.path} outside the checkout was chowned to ${e.uid}`);
      assert.equal(statSync(sentinel).uid, 0, `round ${round}: the sentinel dir was chowned`);
      // a failed round is reported at the end; first see whether the others reach outside
      if (failures.length === failed) for (const e of owners(checkout)) {
        assert.equal(e.uid, 0, `round ${round}: ${e.path} is still the task user's after taking back`);
        if (!e.link) assert.equal(e.mode & 0o022, 0, `round ${round}: ${e.path} is writable by others after taking back`);
      }
      rmSync(checkout, { recursive: true, force: true });
    }
    assert.deepEqual(failures, [], 'lending and taking back succeed whatever the user does');
    assert.ok(swapped > 0, 'the user swapped directories for symlinks while the checkout was lent');
  });

  it('a checkout that is still the user\'s (a run killed mid-task) is lent and taken back without leaving it', async () => {
    const checkout = makeCheckout(99);
    execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, join(checkout, 'd0')]);
    const swapper = startSwapper(checkout, 99);
    const exited = new Promise((r) => swapper.child.once('exit', r));
    try {
      await waitFor('a first swap', () => existsSync(join(checkout, 'd0', 'sub.0')));
      const takeBack = await lendCheckout(checkout, user);
      await takeBack();
    } finally {
      writeFileSync(swapper.stop, '');
      await exited;
    }
    for (const e of owners(sentinel)) assert.equal(e.uid, 0, `${e.path} outside the checkout was chowned to ${e.uid}`);
    for (const e of owners(checkout)) assert.equal(e.uid, 0, `${e.path} is still the task user's after taking back`);
  });

  it('an ACL the user gave a lent directory does not outlive taking it back', async () => {
    const checkout = makeCheckout(98);
    const dirs = [join(checkout, 'd0'), join(checkout, 'd0', 'sub')];
    const takeBack = await lendCheckout(checkout, user);
    const set = spawnSync('perl', ['-e', SET_ACL, String(user.uid), ...dirs], { uid: user.uid, gid: user.gid, encoding: 'utf8' });
    assert.equal(set.status, 0, set.stderr);
    await takeBack();
    // what root's next git checkout would do there: create files and directories
    for (const d of dirs) {
      writeFileSync(join(d, 'from-root'), 'root\n');
      mkdirSync(join(d, 'dir-from-root'));
    }
    const attempt = spawnSync(
      'sh',
      ['-c', 'for d in "$@"; do echo x >> "$d/from-root" && echo "wrote $d/from-root"; : > "$d/dir-from-root/new" && echo "created in $d/dir-from-root"; : > "$d/new" && echo "created in $d"; done; true', 'sh', ...dirs],
      { uid: user.uid, gid: user.gid, encoding: 'utf8' },
    );
    assert.equal(attempt.stdout, '', 'the task user can no longer write anything root has or makes in the checkout');
    for (const d of dirs) assert.equal(readFileSync(join(d, 'from-root'), 'utf8'), 'root\n');
    for (const e of owners(checkout)) assert.equal(e.uid, 0, `${e.path} is still the task user's after taking back`);
  });
});
