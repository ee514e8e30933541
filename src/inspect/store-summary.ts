/**
 * What `deploy apps` shows of a store, read with one git process: the release tags and the
 * history's tip in one `for-each-ref`. viewStore and readHistory give the same answer with
 * three (measured: with 50 apps × 3 envs, the git processes were nearly all of the time).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { storeGit } from '../exec/git.js';
import { HISTORY_REF, type HistoryEvent, liveStateAt, parseEventMessage, parseStateOf } from '../release-store/history.js';
import { liveRelease, readHistory, viewStore } from '../release-store/index.js';
import { RELEASE_TAG, type Release, parseTrailers } from '../release-store/release.js';

export interface StoreSummary {
  releases: Release[];
  live?: Release;
  last?: HistoryEvent;
}

const FORMAT = ['%(refname)', '%(objectname)', '%(authordate:iso-strict)', '%(trailers:unfold)', '%(contents)'].join('%00') + '%00%1e';

/**
 * The releases, newest first, and the history tip's message, from for-each-ref's output.
 * `tip` is undefined without history; its state is undefined when the tip's event is from
 * before events carried it (then only a replay of the whole history knows what is live).
 */
export function parseStoreRefs(stdout: string): { releases: Release[]; tip?: { commit: string; message: string } } {
  const releases: Release[] = [];
  let tip: { commit: string; message: string } | undefined;
  for (const record of stdout.split('\x1e')) {
    const [ref, commit, date, trailers, message] = record.replace(/^\n/, '').split('\0');
    if (!ref || !commit) continue;
    if (ref === HISTORY_REF) {
      tip = { commit, message: message ?? '' };
      continue;
    }
    const name = ref.replace(/^refs\/tags\//, '');
    const m = RELEASE_TAG.exec(name);
    if (!ref.startsWith('refs/tags/') || !m || !date) continue;
    releases.push({ id: name, number: Number(m[1]), commit, date, ...parseTrailers(trailers ?? '') });
  }
  releases.sort((a, b) => b.number - a.number);
  return { releases, ...(tip ? { tip } : {}) };
}

export async function readStoreSummary(www: string): Promise<StoreSummary> {
  // no store yet is an empty one; a store this user may not read is an error, not an empty store
  if (!statSync(join(www, '.git'), { throwIfNoEntry: false })) return { releases: [] };
  const { stdout } = await storeGit(www, ['for-each-ref', `--format=${FORMAT}`, 'refs/tags/', HISTORY_REF]);
  const { releases, tip } = parseStoreRefs(stdout);
  const state = tip && parseStateOf(tip.message);
  if (tip && !state) {
    // a history from before events carried their state: the slow, exact way
    const [view, [last]] = await Promise.all([viewStore(www), readHistory(www, 1)]);
    return { releases: view.releases, live: view.live, last };
  }
  const live = liveRelease(releases, liveStateAt(tip && state ? { commit: tip.commit, state } : undefined));
  const last = tip ? parseEventMessage(tip.message) : undefined;
  return { releases, ...(live ? { live } : {}), ...(last ? { last } : {}) };
}
