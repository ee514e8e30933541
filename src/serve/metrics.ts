/**
 * `/metrics` in Prometheus's text format (prom-client), computed from the feed at each
 * scrape, for the app-envs the scraper may see: runs by app, env, kind and result (from the
 * history the summary carries), the last run's duration and failed hosts, the live
 * release's age, and whether a run is going on.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { FeedSummary } from '../feed/index.js';
import type { RunListing } from './feed-read.js';

export interface MetricsInput {
  summary: FeedSummary;
  lastRun: RunListing | undefined;
  running: boolean;
}

export async function metricsText(inputs: readonly MetricsInput[], now: Date = new Date()): Promise<{ text: string; contentType: string }> {
  const registry = new Registry();
  const labels = ['app', 'env'] as const;
  const runs = new Counter({ name: 'slipway_runs_total', help: 'Deploys, rollbacks and syncs recorded in the history, by result.', labelNames: [...labels, 'kind', 'result'], registers: [registry] });
  const duration = new Gauge({ name: 'slipway_last_run_duration_seconds', help: 'How long the last finished run took.', labelNames: labels, registers: [registry] });
  const failed = new Gauge({ name: 'slipway_last_run_hosts_failed', help: 'Hosts that failed in the last finished run.', labelNames: labels, registers: [registry] });
  const age = new Gauge({ name: 'slipway_live_release_age_seconds', help: 'Seconds since the live release was made live.', labelNames: labels, registers: [registry] });
  const inProgress = new Gauge({ name: 'slipway_run_in_progress', help: '1 while a run of the app-env is going on.', labelNames: labels, registers: [registry] });
  for (const { summary: s, lastRun, running } of inputs) {
    const l = { app: s.app, env: s.env };
    const counts = new Map<string, number>();
    for (const e of s.historyTotals ?? []) counts.set(`${e.kind}\0${e.result}`, e.count);
    for (const [key, n] of counts) {
      const [kind, result] = key.split('\0');
      runs.inc({ ...l, kind, result }, n);
    }
    if (lastRun?.finish) {
      duration.set(l, lastRun.finish.ms / 1000);
      failed.set(l, lastRun.finish.counts.failed ?? 0);
    }
    if (s.live) {
      const made = s.history.find((e) => e.to === s.live && (e.result === 'ok' || e.result === 'partial'))?.at ?? s.releases.find((r) => r.id === s.live)?.date;
      if (made) age.set(l, Math.max(0, (now.getTime() - Date.parse(made)) / 1000));
    }
    inProgress.set(l, running ? 1 : 0);
  }
  return { text: await registry.metrics(), contentType: registry.contentType };
}
