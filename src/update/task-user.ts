/**
 * Admin tasks as an unprivileged user. The commands get that user's uid and gid
 * (execa/libuv: setgid, setgroups(0), setuid), and for the length of the task
 * the user is lent the checkout's files so a build can write its output.
 *
 * Never lent: the top directory, any directory holding a `.git` (the checkout
 * and each submodule) and `.git` itself. Owning one of those would let the
 * task user plant a `.git` whose config (core.fsmonitor, hooks) root's next
 * git command would run. Consequence: a task may write into subdirectories and
 * existing files, but not create files at the top level of a repository.
 *
 * A process of the task user may run while the checkout is lent and taken back
 * (it may outlive its task), renaming what it was lent and putting symlinks in
 * its place. So no path through the tree is ever resolved twice: each
 * directory is opened once, without following a link (O_NOFOLLOW|O_DIRECTORY),
 * and everything below it is reached relative to that descriptor, through
 * /proc/self/fd/N (Node has no openat/fchownat; the kernel resolves that link to
 * the opened directory itself, whatever its path has become). On top of that:
 * - lending starts by taking back, then goes bottom-up: a directory is the user's
 *   only once everything in it is, so the user never writes in a directory still
 *   being walked;
 * - taking back goes top-down: a directory is root's again (and writable by
 *   root alone) before its entries are read, so they can no longer change; then
 *   it is swapped for a fresh directory, so no ACL the user set on it remains.
 */
import { type Stats, constants, existsSync, readFileSync } from 'node:fs';
import { type FileHandle, chmod, lchown, lstat, mkdtemp, open, readdir, rename } from 'node:fs/promises';
import { StepError, UsageError, errorMessage } from '../errors.js';
import { local } from '../exec/local.js';

export interface TaskUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface Owner {
  uid: number;
  gid: number;
}

export async function lookupUser(name: string): Promise<TaskUser> {
  const r = await local.run(['getent', 'passwd', '--', name], { reject: false });
  const fields = r.stdout.trim().split(':');
  if (r.exitCode !== 0 || fields.length < 7) throw new UsageError(`admin tasks should run as ${JSON.stringify(name)}, but there is no such user on this admin node`);
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (uid === 0) throw new UsageError(`admin tasks should run as an unprivileged user, but ${name} has uid 0`);
  if (process.getuid?.() !== 0) throw new UsageError(`admin tasks run as ${name}: that needs deploy to run as root (sudo)`);
  if (!existsSync('/proc/self/fd')) throw new UsageError(`admin tasks run as ${name}: that needs /proc mounted on this admin node`);
  // without it the user could hard-link any root file into a lent directory and have it lent
  if (readSysctl('/proc/sys/fs/protected_hardlinks') !== '1') {
    throw new UsageError(`admin tasks run as ${name}: that needs fs.protected_hardlinks = 1 (sysctl) on this admin node`);
  }
  return { name, uid, gid, home: fields[5] || '/' };
}

function readSysctl(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Give the task user the checkout's files; returns how to take them back. */
export async function lendCheckout(dir: string, user: TaskUser): Promise<() => Promise<void>> {
  const back = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  const takeBack = () => withDir(dir, (top) => takeBackBelow(top, user, back));
  try {
    // a run killed while the checkout was lent left it the user's: lending starts from a tree the user cannot change
    await takeBack();
    await withDir(dir, (top) => lendBelow(top, user));
  } catch (err) {
    await takeBack();
    throw new StepError(`cannot lend ${dir} to ${user.name}: ${errorMessage(err)}`);
  }
  // files the task created are the user's too: take back everything the user owns, not just what was lent
  return takeBack;
}

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
/** `name` in the directory open as `fd`, resolved from the descriptor, not from a path. */
const at = (fd: FileHandle, name: string) => `/proc/self/fd/${fd.fd}/${name}`;

async function withDir<T>(path: string, use: (fd: FileHandle) => Promise<T>): Promise<T> {
  const fd = await open(path, DIR_FLAGS);
  try {
    return await use(fd);
  } finally {
    await fd.close();
  }
}

/** Entries of an open directory; never `.` or `..`. */
const entries = (fd: FileHandle) => readdir(`/proc/self/fd/${fd.fd}`);

/**
 * Lend everything below `dir` but `.git` and directories that hold one; `dir` is
 * still root's, so its entries cannot change while they are lent.
 */
async function lendBelow(dir: FileHandle, user: TaskUser): Promise<void> {
  const found = (await entryStats(dir)).filter((e) => e.name !== '.git');
  await Promise.all(found.filter((e) => !e.st.isDirectory()).map((e) => lchown(at(dir, e.name), user.uid, user.gid)));
  for (const { name } of found.filter((e) => e.st.isDirectory())) {
    await withDir(at(dir, name), async (sub) => {
      const holdsGit = (await entries(sub)).includes('.git');
      await lendBelow(sub, user);
      if (!holdsGit) await sub.chown(user.uid, user.gid);
    });
  }
}

/**
 * Take back everything below `dir` that is the user's; `dir` is root's. A directory
 * of the user's is first made root's, and stripped of write for group and others,
 * set-id and sticky bits, so nothing in it can change any more; then it is replaced
 * by a fresh one holding the same entries: the user may have given it a default
 * ACL, which chown and chmod keep and which would make whatever root later creates
 * in it writable by the user. Files are taken back by name in a directory that is
 * root's; their ACLs, if any, are capped by the mode (the mask follows the group
 * bits). A `.git` that is not the user's was never lent, and nothing in it was
 * writable by the user.
 */
async function takeBackBelow(dir: FileHandle, user: TaskUser, back: Owner): Promise<void> {
  const found = await entryStats(dir);
  const users = (st: Stats) => st.uid === user.uid || st.gid === user.gid;
  await Promise.all(
    found
      .filter((e) => !e.st.isDirectory() && users(e.st))
      .map(async ({ name, st }) => {
        await lchown(at(dir, name), back.uid, back.gid);
        // a symlink's mode means nothing, and chmod would follow it
        if (!st.isSymbolicLink()) await chmod(at(dir, name), st.mode & 0o755);
      }),
  );
  for (const { name, st } of found.filter((e) => e.st.isDirectory())) {
    if (name === '.git' && st.uid !== user.uid) continue;
    await withDir(at(dir, name), async (sub) => {
      const own = await sub.stat();
      if (!users(own)) return takeBackBelow(sub, user, back);
      await sub.chown(back.uid, back.gid);
      await sub.chmod(own.mode & 0o755);
      const fresh = await mkdtemp(at(dir, '.slipway-'));
      await withDir(fresh, async (replacement) => {
        await replacement.chmod(own.mode & 0o755);
        await Promise.all((await entries(sub)).map((entry) => rename(at(sub, entry), at(replacement, entry))));
        await rename(fresh, at(dir, name));
        await takeBackBelow(replacement, user, back);
      });
    });
  }
}

/** The entries of an open directory with their lstat. */
async function entryStats(dir: FileHandle): Promise<{ name: string; st: Stats }[]> {
  return Promise.all((await entries(dir)).map(async (name) => ({ name, st: await lstat(at(dir, name)) })));
}
