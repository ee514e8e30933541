/**
 * What changed between two releases of the store. Private files are named,
 * never shown: patches exclude them by pathspec, so their contents never even
 * leave git.
 */
import { storeGit } from '../exec/git.js';
import type { Release } from './release.js';

export interface FileChange {
  /** git's letter: A added, M modified, D deleted, T type changed */
  status: string;
  path: string;
  private: boolean;
}

const literal = (path: string) => `:(literal)${path}`;

/** Files that differ between two releases, in path order, private ones marked. */
export async function changedFiles(www: string, from: Release, to: Release, only: readonly string[] = []): Promise<FileChange[]> {
  const privateFiles = new Set([...from.privateFiles, ...to.privateFiles]);
  const { stdout } = await storeGit(www, ['diff', '--name-status', '-z', '--no-renames', from.commit, to.commit, '--', ...only.map(literal)]);
  const parts = stdout.split('\0');
  const out: FileChange[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const path = parts[i + 1]!;
    out.push({ status: parts[i]!.slice(0, 1), path, private: privateFiles.has(path) });
  }
  return out;
}

/**
 * Files that differ between `from` and each of `others`, by release id, in one git process
 * (a summary lists up to 20 releases against the live one: one `git diff` each cost 20
 * processes after a run). `git diff-tree --stdin` reads `<commit> <parent>` lines and diffs
 * parent → commit, headed by the commit's id; a pair with no difference prints nothing.
 */
export async function changedFilesAgainst(www: string, from: Release, others: readonly Release[]): Promise<Map<string, FileChange[]>> {
  const out = new Map<string, FileChange[]>(others.map((r) => [r.id, []]));
  const pairs = others.filter((r) => r.commit !== from.commit);
  if (!pairs.length) return out;
  // each release's list and private files, by commit (two releases may share a commit)
  type Target = { changes: FileChange[]; privateFiles: Set<string> };
  const byCommit = new Map<string, Target[]>();
  for (const r of pairs) {
    const target = { changes: out.get(r.id)!, privateFiles: new Set([...from.privateFiles, ...r.privateFiles]) };
    byCommit.set(r.commit, [...(byCommit.get(r.commit) ?? []), target]);
  }
  const input = pairs.map((r) => `${r.commit} ${from.commit}\n`).join('');
  const { stdout } = await storeGit(www, ['diff-tree', '-r', '-z', '--no-renames', '--name-status', '--stdin'], { input });
  const parts = stdout.split('\0');
  let current: Target[] = [];
  for (let i = 0; i < parts.length; i++) {
    const token = parts[i]!;
    // a header: a commit id; a status is one letter (no renames or copies: no score), then its path
    if (/^[0-9a-f]{40,64}$/.test(token)) {
      current = byCommit.get(token) ?? [];
      continue;
    }
    if (!token || i + 1 >= parts.length) continue;
    const path = parts[++i]!;
    for (const t of current) t.changes.push({ status: token.slice(0, 1), path, private: t.privateFiles.has(path) });
  }
  return out;
}

/** A unified diff of the non-private files only. */
export async function publicPatch(www: string, from: Release, to: Release): Promise<string> {
  const privateFiles = [...new Set([...from.privateFiles, ...to.privateFiles])];
  const excludes = privateFiles.map((p) => `:(exclude,literal)${p}`);
  const { stdout } = await storeGit(www, ['diff', '--no-renames', '--no-color', '--no-ext-diff', '--no-textconv', from.commit, to.commit, '--', '.', ...excludes]);
  return stdout;
}

/** The releases between two (exclusive of the older, inclusive of the newer) that touched the given paths. */
export async function releasesTouching(www: string, releases: readonly Release[], a: Release, b: Release, paths: readonly string[]): Promise<Release[]> {
  if (!paths.length) return [];
  const [older, newer] = a.number < b.number ? [a, b] : [b, a];
  const { stdout } = await storeGit(www, ['log', '--format=%H', `${older.commit}..${newer.commit}`, '--', ...paths.map(literal)]);
  const commits = new Set(stdout.split('\n').filter(Boolean));
  return releases.filter((r) => commits.has(r.commit));
}
