/**
 * After a run, tell others: a webhook POST and a StatsD event. Each has a
 * bounded timeout; a failure to notify comes back as a warning and never
 * changes the run's outcome. Warnings name the webhook's host only: a Slack
 * webhook URL is itself a secret.
 */
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { errorMessage } from '../errors.js';
import type { RunSummary } from '../report/summary.js';
import { type RunInfo, statsdLines, webhookBody } from './payload.js';

export type { RunInfo } from './payload.js';

export interface NotifySettings {
  webhook?: { url: string; format: 'slack' | 'json'; timeout: number };
  statsd?: { host: string; port: number; prefix: string; timeout: number };
}

/** Send every configured notification; returns one warning per failure. */
export async function notifyRun(settings: NotifySettings, info: RunInfo, summary: RunSummary): Promise<string[]> {
  const jobs: Promise<void>[] = [];
  const labels: string[] = [];
  if (settings.webhook) {
    const w = settings.webhook;
    labels.push(`webhook to ${new URL(w.url).host}`);
    jobs.push(postWebhook(w.url, webhookBody(w.format, info, summary), w.timeout * 1000));
  }
  if (settings.statsd) {
    const s = settings.statsd;
    labels.push(`statsd to ${s.host}:${s.port}`);
    jobs.push(sendUdp(s.host, s.port, statsdLines(s.prefix, info, summary).join('\n'), s.timeout * 1000));
  }
  const results = await Promise.allSettled(jobs);
  return results.flatMap((r, i) => (r.status === 'rejected' ? [`notification failed: ${labels[i]}: ${reason(r.reason)}`] : []));
}

function reason(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${errorMessage(err)}${cause}`;
}

async function postWebhook(url: string, body: string, timeoutMs: number): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'slipway' },
      body,
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    if (err instanceof Error && err.name === 'TimeoutError') throw new Error(`no answer within ${timeoutMs / 1000}s`);
    throw err;
  }
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new Error(`answered HTTP ${res.status}`);
}

async function sendUdp(host: string, port: number, payload: string, timeoutMs: number): Promise<void> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const { address, family } = await lookup(host);
  const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      timeout.addEventListener('abort', () => reject(new Error(`not sent within ${timeoutMs / 1000}s`)));
      socket.once('error', reject);
      socket.send(payload, port, address, (err) => (err ? reject(err) : resolve()));
    });
  } finally {
    socket.close();
  }
}
