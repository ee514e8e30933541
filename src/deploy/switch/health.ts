/**
 * Health checks after a host switches: an HTTP request from the admin node
 * (what a load balancer would see) and/or a command on the host. Each is
 * retried with a doubling back-off before the host counts as unhealthy.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../../errors.js';
import type { Step } from '../plan.js';
import type { HostConnection } from '../../exec/runner.js';
import { lastLines } from '../../report/line.js';
import { plural } from '../../report/line.js';

export type CheckStep = Extract<Step, { kind: 'http' | 'command' }>;

export interface RetryPolicy {
  retries: number;
  backoffS: number;
}

/** One attempt of an HTTP check; resolves to a failure reason, or undefined when healthy. */
export async function probeHttp(step: Extract<Step, { kind: 'http' }>): Promise<string | undefined> {
  let res: Response;
  try {
    res = await fetch(step.url, { signal: AbortSignal.timeout(step.timeoutS * 1000), redirect: 'manual', headers: { 'cache-control': 'no-cache' } });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError') return `GET ${step.url}: no answer within ${step.timeoutS}s`;
    return `GET ${step.url}: ${e.cause?.code ?? e.cause?.message ?? errorMessage(err)}`;
  }
  const body = await res.text().catch(() => '');
  if (res.status !== step.status) return `GET ${step.url}: status ${res.status}, expected ${step.status}`;
  if (step.body !== undefined && !body.includes(step.body)) {
    return `GET ${step.url}: body does not contain ${JSON.stringify(step.body)} (got ${JSON.stringify(body.trim().slice(0, 60))})`;
  }
  return undefined;
}

async function probeCommand(session: HostConnection, step: Extract<Step, { kind: 'command' }>): Promise<string | undefined> {
  const r = await session.run(step.cmd, { reject: false });
  if (r.exitCode === 0) return undefined;
  const said = lastLines(r.stderr || r.stdout, 2, ' / ');
  return `${step.cmd[0]} exited ${r.exitCode}${said ? `: ${said}` : ''}`;
}

/** Run one check until it passes or the retries are spent; throws the last reason. Returns attempts used. */
export async function runCheck(step: CheckStep, session: HostConnection, policy: RetryPolicy): Promise<number> {
  let reason: string | undefined;
  for (let attempt = 0; attempt <= policy.retries; attempt++) {
    if (attempt > 0) await sleep(policy.backoffS * 1000 * 2 ** (attempt - 1));
    reason = step.kind === 'http' ? await probeHttp(step) : await probeCommand(session, step);
    if (reason === undefined) return attempt + 1;
  }
  throw new Error(`unhealthy after ${plural(policy.retries + 1, 'attempt')}: ${reason}`);
}
