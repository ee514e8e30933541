/**
 * What an update would bring, without changing anything: the branch head (or
 * a revision) and the commits it adds. Fetches into a throw-away bare repo that
 * borrows the checkout's objects, so the checkout itself is never touched.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppEnv } from '../config/resolve.js';
import { StepError, UsageError } from '../errors.js';
import { git as gitIn } from '../exec/git.js';
import { local } from '../exec/local.js';
import { explainGitFailure, parseHeads, withoutPassword } from './checkout.js';

export interface SourcePreview {
  sha: string;
  subject: string;
  /** Commits after `base` up to `sha`, newest first; undefined when `base` is not known to the repo. */
  commits?: { sha: string; subject: string }[];
}

export async function previewSource(appEnv: AppEnv, base: string | undefined, revision?: string): Promise<SourcePreview> {
  const tmp = await mkdtemp(join(tmpdir(), 'slipway-preview-'));
  const inTmp = gitIn(local, { dir: tmp, settings: appEnv.gitConfig, env: { GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1' } });
  const git = (args: string[], reject = true) => inTmp.run(args, { reject });
  try {
    await git(['init', '--quiet', '--bare']);
    const objects = join(appEnv.paths.src, '.git', 'objects');
    if (existsSync(objects)) await writeFile(join(tmp, 'objects', 'info', 'alternates'), `${objects}\n`);
    const fetched = await git(['fetch', '--quiet', '--no-tags', appEnv.repo, `+refs/heads/${appEnv.branch}:refs/heads/slipway-target`, '+refs/tags/*:refs/tags/*'], false);
    if (fetched.exitCode !== 0) {
      const spec = { repo: appEnv.repo, branch: appEnv.branch };
      const missing = /couldn't find remote ref/.test(fetched.stderr);
      const heads = missing ? (await git(['ls-remote', '--heads', appEnv.repo], false)).stdout : '';
      const explained = explainGitFailure(fetched.stderr, spec, parseHeads(heads));
      if (missing && explained) throw new UsageError(explained);
      throw new StepError(`fetching ${withoutPassword(appEnv.repo)}: ${explained ?? (fetched.stderr.trim() || `git exited ${fetched.exitCode}`)}`);
    }
    const wanted = revision ?? 'refs/heads/slipway-target';
    const parsed = await git(['rev-parse', '--verify', '--quiet', '--end-of-options', `${wanted}^{commit}`], false);
    if (parsed.exitCode !== 0) {
      throw new UsageError(revision ? `revision ${JSON.stringify(revision)} is not a commit in ${appEnv.repo}` : `branch ${JSON.stringify(appEnv.branch)} does not exist in ${appEnv.repo}`);
    }
    const sha = parsed.stdout.trim();
    const subject = (await git(['log', '-1', '--format=%s', sha])).stdout.trim();
    const known = base ? (await git(['cat-file', '-e', `${base}^{commit}`], false)).exitCode === 0 : true;
    if (!known) return { sha, subject };
    const range = base ? [`${base}..${sha}`] : [sha];
    const log = await git(['log', '--format=%H%x00%s', '-n', '500', ...range]);
    const commits = log.stdout.split('\n').filter(Boolean).map((line) => {
      const [c, s] = line.split('\0');
      return { sha: c!, subject: s ?? '' };
    });
    return { sha, subject, commits };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
