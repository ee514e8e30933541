/**
 * One result of `deploy check`: what was checked, about which file or host, and when it
 * did not pass, what to do. Text and JSON output are both made from these.
 */
export type FindingStatus = 'ok' | 'warn' | 'fail';

export interface Finding {
  /** The file or host the check is about: `apps/shop.ts`, `/data/prod/private/shop`, `web2`. */
  subject: string;
  /** A stable name: `app-file`, `private-dir`, `known-hosts`, `connect`, `disk`… (docs/json-read.md). */
  check: string;
  status: FindingStatus;
  /** What was found, one line. */
  detail: string;
  /** What to do about it (warn and fail only). */
  fix?: string;
}

export const ok = (subject: string, check: string, detail: string): Finding => ({ subject, check, status: 'ok', detail });
export const fail = (subject: string, check: string, detail: string, fix: string): Finding => ({ subject, check, status: 'fail', detail, fix });
export const warn = (subject: string, check: string, detail: string, fix: string): Finding => ({ subject, check, status: 'warn', detail, fix });

export const failures = (findings: readonly Finding[]): Finding[] => findings.filter((f) => f.status === 'fail');

/** `FAIL  web2  known-hosts: no key for …; fix: …`, subjects aligned to the longest. */
export function formatFindings(findings: readonly Finding[]): string[] {
  const width = Math.max(0, ...findings.map((f) => f.subject.length));
  return findings.map((f) => `${f.status.toUpperCase().padEnd(4)}  ${f.subject.padEnd(width)}  ${f.check}: ${f.detail}${f.fix ? `; fix: ${f.fix}` : ''}`);
}
