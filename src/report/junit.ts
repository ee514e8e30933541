/**
 * `--junit <file>`: the run as a JUnit XML report, so Jenkins shows every host
 * as a test and a failed host as a failed test with its reason.
 *   <target>.run     one case: the run's verdict (fails with the error)
 *   <target>.hosts   one case per host: switched passes, failed fails, the rest are skipped
 *   <target>.phases  one case per phase (update, release, stage, switch)
 *   <target>.steps   one case per step, classname <target>.<host>
 */
import { writeFile } from 'node:fs/promises';
import type { RunSummary, StepSummary } from './summary.js';

interface Case {
  classname: string;
  name: string;
  ms: number;
  failure?: { type: string; message: string };
  skipped?: string;
}

export function junitXml(s: RunSummary): string {
  const t = s.target || 'deploy';
  const suites: [string, Case[]][] = [
    [`${t}.run`, [{ classname: `${t}.run`, name: 'deploy', ms: s.ms ?? 0, ...(s.exitCode === 0 ? {} : { failure: { type: `exit ${s.exitCode ?? '?'}`, message: s.error ?? 'the run did not finish' } }) }]],
    [
      `${t}.hosts`,
      s.hosts.map((h): Case => {
        const c: Case = { classname: `${t}.hosts`, name: h.host, ms: h.ms };
        if (h.state === 'failed') c.failure = { type: h.failedStep ?? 'failed', message: h.error ?? 'failed' };
        else if (h.state === 'staged') c.skipped = `staged ${s.release?.id ?? 'the release'}, not switched: the run failed elsewhere`;
        else if (h.state === 'untouched') c.skipped = 'not reached: the run stopped before this host';
        return c;
      }),
    ],
    [
      `${t}.phases`,
      s.phases.map((p): Case => ({
        classname: `${t}.phases`,
        name: p.phase,
        ms: p.ms,
        ...(p.ok ? {} : { failure: { type: 'phase', message: p.failed.length ? `failed on ${p.failed.join(', ')}` : 'failed' } }),
      })),
    ],
    [`${t}.steps`, [...s.admin, ...s.hosts.flatMap((h) => h.steps)].map((st) => stepCase(t, st))],
  ];
  const all = suites.flatMap(([, cases]) => cases);
  const out = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites name=${attr(`deploy ${t}`)} ${counts(all)}>`];
  for (const [name, cases] of suites) {
    out.push(`  <testsuite name=${attr(name)} ${counts(cases)}>`);
    for (const c of cases) out.push(caseXml(c));
    out.push('  </testsuite>');
  }
  out.push('</testsuites>', '');
  return out.join('\n');
}

function stepCase(target: string, st: StepSummary): Case {
  return { classname: `${target}.${st.host}`, name: st.step, ms: st.ms, ...(st.ok ? {} : { failure: { type: st.step, message: st.text } }) };
}

function counts(cases: Case[]): string {
  const sec = cases.reduce((sum, c) => sum + c.ms, 0) / 1000;
  return `tests="${cases.length}" failures="${cases.filter((c) => c.failure).length}" errors="0" skipped="${cases.filter((c) => c.skipped).length}" time="${sec.toFixed(3)}"`;
}

function caseXml(c: Case): string {
  const open = `    <testcase classname=${attr(c.classname)} name=${attr(c.name)} time="${(c.ms / 1000).toFixed(3)}"`;
  if (c.failure) return `${open}>\n      <failure type=${attr(c.failure.type)} message=${attr(c.failure.message)}>${text(c.failure.message)}</failure>\n    </testcase>`;
  if (c.skipped) return `${open}>\n      <skipped message=${attr(c.skipped)}/>\n    </testcase>`;
  return `${open}/>`;
}

// XML 1.0 cannot carry most control characters, even escaped
// eslint-disable-next-line no-control-regex
const clean = (s: string) => s.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '?');

function text(s: string): string {
  return clean(s).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function attr(s: string): string {
  return `"${text(s).replaceAll('"', '&quot;').replaceAll('\n', '&#10;').replaceAll('\r', '&#13;').replaceAll('\t', '&#9;')}"`;
}

export async function writeJunit(file: string, summary: RunSummary): Promise<void> {
  await writeFile(file, junitXml(summary));
}
