/** Git on the release store, under fixed settings so no user or system config changes what is committed. */
import { runLocal, type RunOptions, type RunResult } from '../exec/local.js';

const FIXED = [
  '-c', 'core.autocrlf=false',
  '-c', 'core.safecrlf=false',
  '-c', 'core.fileMode=true',
  '-c', 'core.symlinks=true',
  '-c', 'core.hooksPath=/dev/null',
  // the www tree's files are hard links to the checkout's: a new link changes their ctime
  '-c', 'core.trustctime=false',
  '-c', 'core.excludesFile=/dev/null',
  '-c', 'core.quotePath=false',
  '-c', 'commit.gpgSign=false',
  '-c', 'tag.gpgSign=false',
  '-c', 'advice.detachedHead=false',
  // loose objects are written on every release and packed later by gc; zlib on them cost
  // more than half of a first release's commit (most of a web app's bytes are assets that
  // do not compress), and the export then reads them back without inflating
  '-c', 'core.looseCompression=0',
  // objects, packs and refs fsync'd as git writes them (git's default leaves refs and loose
  // objects to the page cache): a release and its history event are on disk before a host
  // switches or the run reports (see pack.ts). batch: a release's loose trees are written
  // out one by one and flushed by one fsync at the end (54 fsyncs of a first release's
  // write-tree become 1); refs and packs are fsync'd one by one whatever the method
  '-c', 'core.fsync=committed',
  '-c', 'core.fsyncMethod=batch',
];

export function storeGit(dir: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return runLocal(['git', '-C', dir, ...FIXED, ...args], {
    ...options,
    env: { GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', ...options.env },
  });
}
