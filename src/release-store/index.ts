/** release: rsync the checkout into the www tree, overlay private files, commit a release. */
import type { AppEnv } from '../config/resolve.js';
import type { SourceState } from '../update/checkout.js';
import { ADMIN, type Reporter, step } from '../report/events.js';
import { deployerName } from '../caller.js';
import { type CommitResult, commitRelease, exportRelease, initStore, syncIntoWww } from './store.js';

import { type HistoryTip, type LiveState, liveRelease, liveStateAt, readTip } from './history.js';
import type { Release } from './release.js';
import { listReleases } from './store.js';

export type { Release } from './release.js';
export { exportRelease, listReleases, maintainStore, resolveRelease } from './store.js';
export { type HistoryEntry, type HistoryEvent, type LiveState, liveRelease, liveState, liveStateAt, previousRelease, readEntries, readHistory, readTip } from './history.js';
export { recordRun, isWorthRecording, type RunRecord } from './record.js';

/**
 * A release being made, in its two moments: `synced` once the www tree holds what the
 * release will be (hosts with nothing can start receiving it then: deploy/stage/ahead.ts),
 * and `committed` once it is a release of the store (git add hashes every file: the long part).
 */
export interface ReleaseInMaking {
  synced: Promise<void>;
  committed: Promise<CommitResult>;
}

/** `known`: the store's releases, read under the app-env's lock the run holds (else read here). */
export function makeRelease(appEnv: AppEnv, source: SourceState, reporter: Reporter, build?: string, known?: Release[]): ReleaseInMaking {
  let markSynced!: () => void;
  let failSynced!: (err: unknown) => void;
  const synced = new Promise<void>((resolve, reject) => ((markSynced = resolve), (failSynced = reject)));
  synced.catch(() => undefined); // a failure is the commit's to report
  const committed = step(reporter, ADMIN, 'release', `releasing into ${appEnv.paths.www}`, async () => {
    await initStore(appEnv.paths.www);
    const privateFiles = await syncIntoWww(appEnv);
    markSynced();
    return commitRelease(
      appEnv.paths.www,
      {
        app: appEnv.app,
        env: appEnv.env,
        deployer: deployerName(),
        source: source.sha,
        branch: source.branch,
        subject: source.subject,
        submodules: source.submodules,
        build,
      },
      privateFiles,
      known,
    );
  }, (r) => (r.created ? `committed release ${r.release.id} (${r.release.commit.slice(0, 12)})` : `no change since ${r.release.id}: no new release`));
  committed.catch(failSynced);
  return { synced, committed };
}

/** The store at a glance: its releases (newest first) and what it has live. */
export interface StoreView {
  releases: Release[];
  state: LiveState;
  live?: Release;
  /** the history's tip it was read from (undefined: none yet): the run's event is appended there */
  tip?: HistoryTip;
}

/** `known`: the store's releases, if the caller has just read them (under the app-env's lock). */
export async function viewStore(www: string, known?: Release[]): Promise<StoreView> {
  const [releases, tip] = await Promise.all([known ?? listReleases(www), readTip(www)]);
  const state = liveStateAt(tip);
  return { releases, state, live: liveRelease(releases, state), tip };
}
export { changedFiles, changedFilesAgainst, type FileChange, publicPatch, releasesTouching } from './diff.js';

/** Check out a release's exact tree from the store, private files included, for hosts to pull. */
export function exportStep(appEnv: AppEnv, release: Release, reporter: Reporter, dir = appEnv.paths.export): Promise<string> {
  return step(reporter, ADMIN, 'export', `checking out ${release.id} from the store`, () =>
    exportRelease(appEnv.paths.www, dir, release, appEnv.privateMode), () => `${release.id} ready to serve`);
}
