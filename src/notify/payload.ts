/**
 * What a notification says, as pure values: the webhook body (Slack-compatible
 * `{text}` or the run summary as JSON) and the StatsD lines. Built only from
 * the run summary, whose texts are already redacted, and redacted again here
 * (value by value, before serialising).
 */
import { formatDuration } from '../report/line.js';
import { redactValue } from '../report/redact.js';
import type { RunSummary } from '../report/summary.js';

export interface RunInfo {
  /** What was run: `deploy` (a rollback would say `rollback`). */
  action: string;
  app: string;
  env: string;
  deployer: string;
}

export type WebhookFormat = 'slack' | 'json';

export function summaryText(info: RunInfo, s: RunSummary): string {
  const target = `${info.app}-${info.env}`;
  const rel = s.release ? `${s.release.id} (${s.release.commit.slice(0, 12)})` : 'no release';
  const total = s.hosts.length;
  const took = formatDuration(s.ms ?? 0);
  const build = s.build ? ` [${s.build}]` : '';
  if (s.exitCode === 0) return `${info.action} ${target} by ${info.deployer}: ${rel} live on ${s.counts.switched}/${total} hosts in ${took}${build}`;
  const failed = s.hosts.filter((h) => h.state === 'failed').map((h) => `${h.host} (${h.failedStep}: ${h.error})`);
  return (
    `${info.action} ${target} by ${info.deployer} FAILED (exit ${s.exitCode}) after ${took}: ${rel} on ${s.counts.switched}/${total} hosts` +
    (failed.length ? `; failed: ${failed.join('; ')}` : s.error ? `; ${s.error.split('\n')[0]}` : '') +
    build
  );
}

export function webhookBody(format: WebhookFormat, info: RunInfo, s: RunSummary): string {
  const body =
    format === 'slack'
      ? { text: summaryText(info, s) }
      : {
          type: info.action,
          target: `${info.app}-${info.env}`,
          app: info.app,
          env: info.env,
          deployer: info.deployer,
          ok: s.exitCode === 0,
          exitCode: s.exitCode,
          ms: Math.round(s.ms ?? 0),
          release: s.release ?? null,
          revision: s.revision ?? null,
          build: s.build ?? null,
          counts: s.counts,
          bytes: s.bytes,
          hosts: s.hosts.map((h) => ({ host: h.host, state: h.state, ...(h.error ? { failedStep: h.failedStep, error: h.error } : {}) })),
          error: s.error ?? null,
          text: summaryText(info, s),
        };
  // each string is redacted before serialising: JSON escapes would hide a secret holding `"` or `\`
  return JSON.stringify(redactValue(body));
}

/** StatsD metric names allow letters, digits, `_`, `-` and `.` as separators. */
const metric = (part: string) => part.replace(/[^a-zA-Z0-9_-]/g, '_');

export function statsdLines(prefix: string, info: RunInfo, s: RunSummary): string[] {
  const base = [prefix, metric(info.app), metric(info.env), metric(info.action)].join('.');
  return [`${base}:1|c`, `${base}_ms:${Math.round(s.ms ?? 0)}|ms`, ...(s.exitCode === 0 ? [] : [`${base}_failed:1|c`])];
}
