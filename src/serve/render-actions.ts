/** The pages of the dashboard's actions: confirm with the rollout shown, a refusal, a request's progress, a release's files. */
import type { FeedSummary, ReleaseDiff } from '../feed/index.js';
import type { RequestStatus } from '../feed/requests.js';
import { plural } from '../report/line.js';
import { type Html, driftOf, html, when } from './render.js';

export interface Ask {
  action: 'deploy' | 'rollback' | 'sync';
  revision?: string;
  to?: string;
}

const TITLES: Record<Ask['action'], string> = { deploy: 'Deploy', rollback: 'Roll back', sync: 'Sync' };

/** What the run would do, in words: the release it ships and the rollout from the summary. */
export function confirmBody(target: string, s: FeedSummary, ask: Ask, csrfToken: string): Html {
  const live = s.releases.find((r) => r.id === s.live);
  const to = ask.to ? s.releases.find((r) => r.id === ask.to) : undefined;
  const what =
    ask.action === 'deploy'
      ? ask.revision
        ? html`revision <code>${ask.revision}</code> of ${s.branch === ask.revision ? 'the branch' : 'the source'}: a new release unless the store has it`
        : html`the head of branch <code>${s.branch}</code> when the run starts: a new release unless nothing changed`
      : ask.action === 'rollback'
        ? html`back to <b>${to?.id ?? ask.to ?? 'the release live before'}</b>${to ? html` <small>${to.commit.slice(0, 12)} made ${when(to.date)} by ${to.deployer}</small>` : ''}`
        : html`every host back to the live release <b>${s.live ?? '-'}</b>, repairing any that differ`;
  const drift = driftOf(s);
  const plan = s.plan;
  return html`<h1>${TITLES[ask.action]} ${target}?</h1>
<p>${what}. Live now: ${live ? html`<b>${live.id}</b> <small>${live.commit.slice(0, 12)}</small>` : 'nothing'}${drift.length ? html` · <span class="bad">not on it per the last run: ${drift.join(', ')}</span>` : ''}.</p>
<h2>Rollout</h2>
${plan
  ? html`<ol class="plan">
<li>stage on all ${plural(s.hosts.length, 'host')} first (up to ${Math.min(plan.parallel, s.hosts.length)} at once): nobody switches until every host has it</li>
${plan.phases.map((p) => html`<li>${p.pauseBefore ? `after a pause of ${p.pauseBefore}s, ` : ''}<b>${p.name}</b>: ${p.hosts.join(', ')} <small>(at most ${p.concurrency} switching at once)</small>${p.steps.length ? html`<ul>${p.steps.map((step) => html`<li><code>${step}</code></li>`)}</ul>` : ''}</li>`)}
</ol>
<p>failure budget: ${plural(plan.failureBudget, 'host')} of ${s.hosts.length}; on failure: ${plan.autoRevert ? 'every host switched in this run goes back to the release it served before' : 'the fleet is left as it is'}.</p>`
  : html`<p>hosts: ${s.hosts.join(', ')} (the rollout is shown once a run has rewritten this app-env's summary)</p>`}
<p>It goes through the same lock and queue as <code>sudo deploy</code> (waiting up to 30 minutes for a run holding the lock), and the history records it as yours.</p>
<form method="post" action="/t/${target}/requests" class="confirm">
<input type="hidden" name="_csrf" value="${csrfToken}">
<input type="hidden" name="action" value="${ask.action}">
${ask.revision ? html`<input type="hidden" name="revision" value="${ask.revision}">` : ''}
${ask.to ? html`<input type="hidden" name="to" value="${ask.to}">` : ''}
<button type="submit" id="confirm">${TITLES[ask.action]} ${target}</button> <a href="/t/${target}">cancel</a>
</form>`;
}

export function deniedBody(target: string, why: string): Html {
  return html`<h1>${target}</h1>
<p class="bad" id="refusal">${why}</p>
<p><a href="/t/${target}">back to ${target}</a></p>`;
}

export function requestBody(id: string, status: RequestStatus | undefined, run: { id: string; url: string } | null): Html {
  const what = status?.target ? `${status.action} ${status.target}${status.revision ? ` at ${status.revision}` : ''}${status.to ? ` to ${status.to}` : ''} for ${status.person}` : `request ${id}`;
  const state = !status
    ? 'waiting for the worker to take it'
    : status.state === 'queued'
      ? 'queued: the worker has it'
      : status.state === 'running'
        ? 'running'
        : status.state === 'done'
          ? status.exitCode === 0
            ? 'done'
            : `failed (exit ${status.exitCode ?? '?'})${status.error ? `: ${status.error}` : ''}`
          : `${status.state}${status.error ? `: ${status.error}` : ''}`;
  const cls = !status || status.state === 'queued' || status.state === 'running' ? 'running' : status.state === 'done' && status.exitCode === 0 ? 'ok' : 'bad';
  return html`<h1>${what}</h1>
<p>state: <span id="request-state" class="${cls}">${state}</span></p>
<p id="request-run">${run ? html`<a href="${run.url}">the run's output</a>` : 'The run\'s output shows here once it starts.'}</p>`;
}

/** A release and its files against the live release; private files named and marked, never shown. */
export function releaseBody(target: string, s: FeedSummary, r: FeedSummary['releases'][number], diff: ReleaseDiff | undefined): Html {
  const isLive = r.id === s.live;
  return html`<h1>${r.id} of ${target}${isLive ? ' (live)' : ''}</h1>
<p>made ${when(r.date)} by ${r.deployer} · commit ${r.commit.slice(0, 12)} · source ${r.source?.slice(0, 12) ?? '-'}${r.branch ? ` (${r.branch})` : ''}${r.build ? ` · build ${r.build}` : ''}</p>
${r.submodules.length ? html`<p>submodules: ${r.submodules.map((m) => html`<code>${m.path}</code> ${m.sha.slice(0, 12)} `)}</p>` : ''}
<h2>Files against the live release ${s.live ?? ''}</h2>
${isLive
  ? html`<p>This is the live release.</p>`
  : diff
    ? diff.total === 0
      ? html`<p>The same files as ${s.live}.</p>`
      : html`<p>${plural(diff.total, 'file')} differ${diff.total > diff.files.length ? ` (the first ${diff.files.length} shown)` : ''}; going from ${s.live} to ${r.id}:</p>
<table class="diff"><thead><tr><th></th><th>file</th></tr></thead><tbody>
${diff.files.map((f) => html`<tr><td>${f.status === 'A' ? 'added' : f.status === 'D' ? 'removed' : f.status === 'M' ? 'changed' : f.status}</td><td><code>${f.path}</code>${f.private ? html` <span class="private">private: contents never shown</span>` : ''}</td></tr>`)}
</tbody></table>`
    : html`<p>No file list for this release yet: it is written when a run ends.</p>`}`;
}
