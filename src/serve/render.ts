/**
 * The dashboard's HTML, rendered on the server. Every value goes through `html`'s escaping;
 * only fragments built by `html` itself pass unescaped. No inline script or style: the CSP
 * allows only /static/ files.
 */
import type { FeedSummary } from '../feed/index.js';
import { formatDuration, progressText } from '../report/line.js';
import type { FeedLine, RunListing } from './feed-read.js';

export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

type Value = Html | string | number | null | undefined | readonly Value[];

function show(value: Value): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(show).join('');
  if (value === null || value === undefined) return '';
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  return new Html(strings.reduce((out, s, i) => out + s + (i < values.length ? show(values[i] as Value) : ''), ''));
}

export function page(title: string, user: string, body: Html, live: { kind: 'overview' | 'run' | 'request' | 'static'; src: string; offset?: number }): string {
  return `<!doctype html>
${html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Slipway</title>
<link rel="stylesheet" href="/static/style.css">
<script src="/static/live.js" defer></script>
</head>
<body>
<header><a href="/">Slipway</a> <span class="who">${user}</span></header>
<main id="live" data-kind="${live.kind}" data-src="${live.src}" data-offset="${live.offset ?? 0}">
${body}
</main>
</body>
</html>`.text}
`;
}

/** `2026-12-05 18:22:51Z` for the ISO times of events and git's `+00:00` dates alike. */
export const when = (iso: string | undefined | null) => (iso ? iso.replace('T', ' ').replace(/(\.\d+)?(Z|\+00:00)$/, 'Z') : '-');

export interface OverviewRow {
  summary: FeedSummary | undefined;
  target: string;
  running: RunListing | undefined;
  lastRun: RunListing | undefined;
}

/** The hosts the last event left off the live release (failed, or not reached): the fleet's known drift. */
export function driftOf(s: FeedSummary): string[] {
  const last = s.history[0];
  if (!last || !s.live) return [];
  const good = new Set(['switched', 'already-live', 'in-sync', 'repaired', 'ok']);
  const onLive = last.to === s.live;
  return s.hosts.filter((h) => {
    const outcome = last.hosts.find((o) => o.host === h);
    return !onLive || !outcome || !good.has(outcome.state);
  });
}

export function overviewBody(rows: readonly OverviewRow[]): Html {
  if (rows.length === 0) return html`<p>No app-env you may see has run since the dashboard's feed began. Runs appear here as they start.</p>`;
  return html`<h1>Apps</h1>
<table class="overview">
<thead><tr><th>target</th><th>live</th><th>hosts</th><th>last run</th><th>now</th></tr></thead>
<tbody>
${rows.map((r) => {
  const s = r.summary;
  const live = s?.releases.find((x) => x.id === s.live);
  const drift = s ? driftOf(s) : [];
  const last = s?.history[0];
  return html`<tr data-target="${r.target}">
<td><a href="/t/${r.target}">${r.target}</a></td>
<td class="live">${live ? html`${live.id} <small>${live.commit.slice(0, 12)} ${when(live.date)}</small>` : '-'}</td>
<td>${s ? (drift.length ? html`<span class="bad">${s.hosts.length - drift.length}/${s.hosts.length} on live (${drift.join(', ')})</span>` : html`<span class="ok">${s.hosts.length}/${s.hosts.length} on live</span>`) : '-'}</td>
<td>${last ? html`${last.kind} ${last.to ?? ''} <span class="${last.result === 'ok' ? 'ok' : 'bad'}">${last.result}</span> by ${last.who} ${when(last.at)}${r.lastRun?.finish ? html` in ${formatDuration(r.lastRun.finish.ms)}` : ''}` : '-'}</td>
<td class="now">${r.running ? html`<a class="running" href="/t/${r.target}/runs/${r.running.id}">${r.running.meta.action} by ${r.running.meta.who}${r.running.phase ? `: ${r.running.phase}` : ''}</a>` : ''}</td>
</tr>`;
})}
</tbody>
</table>`;
}

export function targetBody(target: string, s: FeedSummary | undefined, runs: readonly RunListing[], canDeploy = false): Html {
  const drift = s ? driftOf(s) : [];
  const last = s?.history[0];
  return html`<h1>${target}</h1>
${s ? html`<p>branch ${s.branch} · live ${s.live ?? 'none'} · updated ${when(s.updated)}</p>
${actionsBar(target, s, canDeploy)}
<h2>Hosts</h2>
<table class="hosts"><thead><tr><th>host</th><th>last outcome</th></tr></thead><tbody>
${s.hosts.map((h) => {
  const o = last?.hosts.find((x) => x.host === h);
  return html`<tr><td>${h}</td><td class="${drift.includes(h) ? 'bad' : 'ok'}">${o ? `${o.state}${last?.to ? ` (${last.to})` : ''}${o.error ? `: ${o.error}` : ''}` : 'not in the last run'}</td></tr>`;
})}
</tbody></table>
<h2>Releases</h2>
<table class="releases"><thead><tr><th>release</th><th>made</th><th>by</th><th>source</th><th>build</th><th></th><th></th></tr></thead><tbody>
${s.releases.map((r) => html`<tr data-release="${r.id}"><td><a href="/t/${target}/releases/${r.id}">${r.id}</a></td><td>${when(r.date)}</td><td>${r.deployer}</td><td>${r.source?.slice(0, 12) ?? '-'}${r.branch ? ` (${r.branch})` : ''}${r.submodules.length ? html` <small>${r.submodules.length} submodules</small>` : ''}</td><td>${r.build ?? '-'}</td><td>${r.mark ?? ''}</td><td>${r.id !== s.live && s.live ? html`<a class="button" href="/t/${target}/confirm?action=rollback&amp;to=${r.id}">roll back to ${r.id}…</a>` : ''}</td></tr>`)}
</tbody></table>
<h2>History</h2>
<table class="history"><thead><tr><th>when</th><th>what</th><th>result</th><th>who</th></tr></thead><tbody>
${s.history.map((e) => html`<tr><td>${when(e.at)}</td><td>${e.kind} ${e.from && e.to && e.from !== e.to ? `${e.from} → ${e.to}` : (e.to ?? '')}</td><td class="${e.result === 'ok' ? 'ok' : 'bad'}">${e.result}${e.error ? `: ${e.error}` : ''}</td><td>${e.who}</td></tr>`)}
</tbody></table>` : html`<p>No summary yet: it is written when a run ends.</p>`}
<h2>Runs</h2>
<table class="runs"><thead><tr><th>started</th><th>what</th><th>who</th><th>result</th></tr></thead><tbody>
${runs.map((r) => html`<tr><td><a href="/t/${target}/runs/${r.id}">${when(r.meta.started)}</a></td><td>${r.meta.action}</td><td>${r.meta.who}</td><td class="${r.state === 'ok' ? 'ok' : r.state === 'running' ? 'running' : 'bad'}">${runState(r)}</td></tr>`)}
</tbody></table>`;
}

/**
 * Deploy (a branch head or a revision) and sync: each opens the confirm page, which shows
 * the rollout first. Shown to everybody; one who may not deploy is told so there.
 */
function actionsBar(target: string, s: FeedSummary, canDeploy: boolean): Html {
  return html`<section class="actions">
<form method="get" action="/t/${target}/confirm"><input type="hidden" name="action" value="deploy"><label>revision <input name="revision" placeholder="head of ${s.branch}" size="14"></label> <button type="submit" id="deploy">deploy…</button></form>
<form method="get" action="/t/${target}/confirm"><input type="hidden" name="action" value="sync"><button type="submit" id="sync">sync…</button></form>
${canDeploy ? '' : html`<small>you may look; deploys are for ${s.allowGroups?.length ? `members of ${s.allowGroups.join(', ')}` : 'the dashboard\'s admins'}</small>`}
</section>`;
}

export function runState(r: RunListing): string {
  if (r.state === 'running') return `running${r.phase ? `: ${r.phase}` : ''}`;
  if (r.state === 'interrupted') return 'interrupted (the run stopped without an end)';
  const f = r.finish!;
  return `${r.state === 'ok' ? 'succeeded' : `failed (exit ${f.exitCode})`}${f.release ? ` · ${f.release.id}` : ''} in ${formatDuration(f.ms)}`;
}

/** One line of a run's output, as the line view prints it; undefined for lines a person need not read. */
export function lineText(l: FeedLine): { text: string; cls: string } | undefined {
  const host = typeof l.host === 'string' ? `[${l.host}] ` : '';
  const took = typeof l.ms === 'number' ? formatDuration(l.ms) : undefined;
  switch (l.type) {
    case 'step.finish':
      if (l.ok === false) return { text: `${host}FAILED${took ? ` after ${took}` : ''}: ${String(l.text)}`, cls: 'fail' };
      return { text: `${host}${String(l.text)}${took && !l.skipped ? ` in ${took}` : ''}`, cls: 'step' };
    case 'output':
      return { text: `${host}| ${String(l.line)}`, cls: 'output' };
    case 'transfer.progress':
      return { text: `${host}${progressText({ kind: 'progress', host: String(l.host), text: String(l.text), bytes: Number(l.bytes), ...(typeof l.total === 'number' ? { total: l.total } : {}) })}`, cls: 'progress' };
    case 'note':
      return { text: `${l.level === 'info' ? '' : `${String(l.level).toUpperCase()}: `}${String(l.text)}`, cls: l.level === 'info' ? 'note' : 'warn' };
    case 'phase.start':
      return { text: `— ${String(l.phase)} —`, cls: 'phase' };
    case 'release':
      return { text: `release ${String(l.id)} (${String(l.commit).slice(0, 12)})${l.created ? ', new' : ''}`, cls: 'note' };
    case 'run.finish':
      return { text: `finished: ${l.ok ? 'succeeded' : `failed (exit ${String(l.exitCode)})${l.error ? `: ${String(l.error)}` : ''}`}${took ? ` in ${took}` : ''}`, cls: l.ok ? 'done' : 'fail' };
    default:
      return undefined;
  }
}

export function runBody(target: string, listing: RunListing, lines: readonly FeedLine[]): Html {
  const shown = lines.map(lineText).filter((x): x is { text: string; cls: string } => x !== undefined);
  const hosts = (lines.find((l) => l.type === 'run.start')?.hosts as string[] | undefined) ?? [];
  return html`<h1>${listing.meta.action} ${target}</h1>
<p>by ${listing.meta.who} · started ${when(listing.meta.started)}${hosts.length ? ` · ${hosts.length} hosts` : ''} · <span id="state" class="${listing.state}">${runState(listing)}</span></p>
<pre id="log">${shown.map((s) => html`<span class="${s.cls}">${s.text}</span>\n`)}</pre>
${listing.finish ? outcomes(lines) : ''}`;
}

/** The end of a run: each host's outcome, from `run.finish`. */
export function outcomes(lines: readonly FeedLine[]): Html {
  const finish = lines.find((l) => l.type === 'run.finish');
  const hosts = (finish?.hosts as { host: string; state: string; ms: number; error?: string }[] | undefined) ?? [];
  if (!hosts.length) return html``;
  return html`<h2>Hosts</h2>
<table class="outcomes"><thead><tr><th>host</th><th>outcome</th><th>took</th></tr></thead><tbody>
${hosts.map((h) => html`<tr><td>${h.host}</td><td class="${h.error ? 'bad' : 'ok'}">${h.state}${h.error ? `: ${h.error}` : ''}</td><td>${formatDuration(h.ms)}</td></tr>`)}
</tbody></table>`;
}
