/** bench/trace.ts: an strace -f -T -y -v log summed by program. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatUse, programOf, summarise } from '../../bench/trace.js';

const LOG = [
  '100 openat(AT_FDCWD</w>, "/w/lock", O_WRONLY|O_CREAT|O_EXCL, 0644) = 5</w/lock> <0.000020>',
  '100 write(7<socket:[991]>, "\\0\\0"..., 32768) = 32768 <0.000050>',
  '101 execve("/usr/bin/git", ["git", "-C", "/w", "-c", "core.fsync=committed", "add", "--all"], ["PATH=/usr/bin"]) = 0 <0.000300>',
  '101 openat(AT_FDCWD</w>, ".git/objects/pack/tmp_pack_x", O_RDWR|O_CREAT|O_EXCL, 0444) = 3</w/.git/objects/pack/tmp_pack_x> <0.000030>',
  '101 write(3</w/.git/objects/pack/tmp_pack_x>, "PACK"..., 8192 <unfinished ...>',
  '102 execve("/usr/bin/tar", ["tar", "-c"], ["PATH=/usr/bin"]) = 0 <0.000200>',
  '101 <... write resumed>) = 8192 <0.000100>',
  '101 fsync(3</w/.git/objects/pack/tmp_pack_x>) = 0 <0.012500>',
  '102 write(1<pipe:[5]>, "x"..., 10240) = 10240 <0.000010>',
  '102 write(4</w/tree.tar>, "x"..., 10240) = 10240 <0.000010>',
  '103 execve("/usr/bin/nope", ["nope"], ["PATH=/usr/bin"]) = -1 ENOENT (No such file or directory) <0.000010>',
  '103 fsync(9</w/dir>) = 0 <0.001000>',
].join('\n');

test('sums fsyncs, their time, bytes written to files and files created by each pid\'s program', () => {
  const rows = summarise(LOG);
  const by = Object.fromEntries(rows.map((r) => [r.program, r]));
  assert.deepEqual(by['git add'], { program: 'git add', processes: 1, fsyncs: 1, fsyncS: 0.0125, bytes: 8192, created: 1 });
  assert.deepEqual(by.tar, { program: 'tar', processes: 1, fsyncs: 0, fsyncS: 0, bytes: 10240, created: 0 }, 'a pipe is not a file');
  assert.deepEqual(by.node, { program: 'node', processes: 2, fsyncs: 1, fsyncS: 0.001, bytes: 0, created: 1 }, 'sockets are not files; a failed execve leaves the pid its parent\'s');
  assert.equal(rows[0]!.program, 'git add', 'the most time in fsync first');
  assert.match(formatUse(rows), /^total +4 +2 +0\.014 +0\.02 +2$/m);
});

test('a git command is named by its subcommand, past -C and -c', () => {
  assert.equal(programOf(['/usr/bin/git', '-C', '/w', '-c', 'a.b=add', 'write-tree']), 'git write-tree');
  assert.equal(programOf(['/usr/lib/git-core/git', '--no-pager', 'unpack-objects']), 'git unpack-objects');
  assert.equal(programOf(['/usr/bin/rsync', '-a']), 'rsync');
});
