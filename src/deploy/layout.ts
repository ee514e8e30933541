/**
 * Where the ship phase keeps things, in one place. On a web server, under `remote.path`:
 *   releases/r<N>-<commit12>/         one complete release: exactly its commit's tree
 *   releases/.r<N>-….rev              its commit; .manifest: its files' size and time
 *   releases/.r<N>-….partial/         a release being staged; never served
 *   releases/.ahead.<token>.partial/  a tree sent ahead of its release (ahead.ts)
 *   releases/.switched                the releases the host has served, in order (keepReleases counts these)
 *   current -> releases/r<N>-…        switched by renaming a new symlink over it
 * The host scripts (remote/common.sh) hold the same names; the release-directory pattern is
 * written there once more, as RELEASE_DIR. On the admin node, the tars a ship builds live in
 * the env's state directory (config/paths.ts).
 */
import type { Release } from '../release-store/release.js';

/** Under `remote.path`: the release directories. */
export const RELEASES = 'releases';
/** Under `remote.path`: the symlink to the release a host serves. */
export const CURRENT = 'current';

/** A release directory's name: `r42-9fceb02d0ae5`. */
export function releaseDir(release: Pick<Release, 'id' | 'commit'>): string {
  return `${release.id}-${release.commit.slice(0, 12)}`;
}

/** A name this tool created; anything else in releases/ is left alone. */
export const RELEASE_DIR = /^r([1-9][0-9]*)-([0-9a-f]{12})$/;

/** `r42-9fceb02d0ae5` → `r42`, for display. */
export function idOfDir(dir: string | undefined): string | undefined {
  if (!dir) return undefined;
  const m = RELEASE_DIR.exec(dir);
  return m ? `r${m[1]}` : dir;
}
