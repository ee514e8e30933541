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
 */
import { lstat, lchown, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { StepError, UsageError } from '../errors.js';
import { runLocal } from '../exec/local.js';

export interface TaskUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export async function lookupUser(name: string): Promise<TaskUser> {
  const r = await runLocal(['getent', 'passwd', '--', name], { reject: false });
  const fields = r.stdout.trim().split(':');
  if (r.exitCode !== 0 || fields.length < 7) throw new UsageError(`admin tasks should run as ${JSON.stringify(name)}, but there is no such user on this admin node`);
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (uid === 0) throw new UsageError(`admin tasks should run as an unprivileged user, but ${name} has uid 0`);
  if (process.getuid?.() !== 0) throw new UsageError(`admin tasks run as ${name}: that needs deploy to run as root (sudo)`);
  return { name, uid, gid, home: fields[5] || '/' };
}

/** Give the task user the checkout's files; returns how to take them back. */
export async function lendCheckout(dir: string, user: TaskUser): Promise<() => Promise<void>> {
  const entries = await lendable(dir);
  const back = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  try {
    for (const path of entries) await lchown(path, user.uid, user.gid);
  } catch (err) {
    await chownTree(dir, back.uid, back.gid);
    throw new StepError(`cannot lend ${dir} to ${user.name}: ${(err as Error).message}`);
  }
  // files the task created are the user's too: take back everything, not just what was lent
  return () => chownTree(dir, back.uid, back.gid);
}

async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  for (const path of await lendable(dir)) await lchown(path, uid, gid);
}

/** Every path below dir except .git entries and directories that hold a .git. */
async function lendable(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const name of await readdir(d)) {
      if (name === '.git') continue;
      const path = join(d, name);
      const st = await lstat(path);
      if (!st.isDirectory()) {
        out.push(path);
        continue;
      }
      const names = await readdir(path);
      if (!names.includes('.git')) out.push(path);
      await walk(path);
    }
  };
  await walk(dir);
  return out;
}
