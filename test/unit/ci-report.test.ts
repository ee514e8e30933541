/**
 * Reports for CI, built from a run's events: the summary, JSON lines, JUnit XML,
 * notification payloads; and the non-interactive rules (TTY/CI).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildFromEnv, checkBuildText } from '../../src/cli/ci.js';
import { isInteractive } from '../../src/cli/context.js';
import { statsdLines, summaryText, webhookBody } from '../../src/notify/payload.js';
import type { RunEvent } from '../../src/report/events.js';
import { jsonReporter } from '../../src/report/json.js';
import { junitXml } from '../../src/report/junit.js';
import { formatLine } from '../../src/report/line.js';
import { addSecrets, redacting } from '../../src/report/redact.js';
import { RunTracker } from '../../src/report/summary.js';
import { findAll, parseXml } from '../support/xml.js';

const COMMIT = 'c0ffee'.padEnd(40, '0');

/** A partial run: web1 and web2 switched, web3's switch failed. */
const partialRun: RunEvent[] = [
  { kind: 'run', state: 'start', target: 'shop-prod', hosts: ['web1', 'web2', 'web3'], build: 'shop #7 https://ci/job/shop/7/' },
  { kind: 'phase', phase: 'update', state: 'start' },
  { kind: 'step', host: 'admin', step: 'update', state: 'start', text: 'updating' },
  { kind: 'step', host: 'admin', step: 'update', state: 'done', text: 'source at abc', ms: 120 },
  { kind: 'phase', phase: 'update', state: 'done', ms: 121 },
  { kind: 'release', id: 'r3', commit: COMMIT, created: true },
  ...['web1', 'web2', 'web3'].flatMap((host, n): RunEvent[] => [
    { kind: 'step', host, step: 'connect', state: 'done', text: 'connected', ms: 10 },
    { kind: 'step', host, step: 'stage', state: 'done', text: 'staged r3', ms: 200, bytes: 1000 + n, files: 4 },
  ]),
  { kind: 'phase', phase: 'stage', state: 'done', ms: 230 },
  { kind: 'step', host: 'web1', step: 'switch', state: 'done', text: 'live on r3', ms: 5 },
  { kind: 'step', host: 'web2', step: 'switch', state: 'done', text: 'live on r3', ms: 5 },
  { kind: 'step', host: 'web3', step: 'switch', state: 'fail', text: 'switch failed (exit 1): mv: cannot overwrite directory', ms: 6 },
  { kind: 'phase', phase: 'switch', state: 'fail', ms: 7, failed: ['web3'] },
  { kind: 'run', state: 'finish', target: 'shop-prod', exitCode: 5, ms: 900, error: 'r3 did not reach 1 of 3 hosts' },
];

function track(events: RunEvent[]): RunTracker {
  const t = new RunTracker();
  for (const e of events) t.emit(e);
  return t;
}

describe('run summary', () => {
  it("derives each host's outcome, bytes and the verdict from the events", () => {
    const s = track(partialRun).summary();
    assert.deepEqual(s.hosts.map((h) => [h.host, h.state, h.bytes, h.files]), [
      ['web1', 'switched', 1000, 4],
      ['web2', 'switched', 1001, 4],
      ['web3', 'failed', 1002, 4],
    ]);
    assert.equal(s.hosts[2]!.failedStep, 'switch');
    assert.deepEqual(s.counts, { switched: 2, staged: 0, failed: 1, untouched: 0 });
    assert.equal(s.bytes, 3003);
    assert.deepEqual(s.release, { id: 'r3', commit: COMMIT, created: true });
    assert.equal(s.exitCode, 5);
    assert.deepEqual(s.phases.map((p) => [p.phase, p.ok]), [['update', true], ['stage', true], ['switch', false]]);
  });

  it('hosts that staged while another failed are "staged"; hosts never reached are "untouched"', () => {
    const s = track([
      { kind: 'run', state: 'start', target: 'a-b', hosts: ['h1', 'h2', 'h3'] },
      { kind: 'step', host: 'h1', step: 'stage', state: 'done', text: 'staged', ms: 1 },
      { kind: 'step', host: 'h2', step: 'connect', state: 'fail', text: 'cannot connect', ms: 1 },
    ]).summary();
    assert.deepEqual(s.hosts.map((h) => h.state), ['staged', 'failed', 'untouched']);
  });
});

describe('--json lines', () => {
  it('one JSON object per event, versioned and timestamped; a failed host gets host.failed', () => {
    const lines: string[] = [];
    const r = jsonReporter((l) => lines.push(l), () => new Date('2026-01-02T03:04:05.678Z'));
    for (const e of partialRun) r.emit(e);
    const objs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(objs.every((o) => o.v === 1 && o.ts === '2026-01-02T03:04:05.678Z'));
    assert.deepEqual(objs.map((o) => o.type), [
      'run.start', 'phase.start', 'step.start', 'step.finish', 'phase.finish', 'release',
      'step.finish', 'step.finish', 'step.finish', 'step.finish', 'step.finish', 'step.finish',
      'phase.finish', 'step.finish', 'step.finish', 'step.finish', 'host.failed', 'phase.finish', 'run.finish',
    ]);
    assert.deepEqual(objs[0], { v: 1, ts: '2026-01-02T03:04:05.678Z', type: 'run.start', target: 'shop-prod', hosts: ['web1', 'web2', 'web3'], revision: null, build: 'shop #7 https://ci/job/shop/7/' });
    assert.deepEqual(objs.find((o) => o.type === 'host.failed'), { v: 1, ts: '2026-01-02T03:04:05.678Z', type: 'host.failed', host: 'web3', step: 'switch', reason: 'switch failed (exit 1): mv: cannot overwrite directory' });
    const stage = objs.find((o) => o.type === 'step.finish' && o.host === 'web2' && o.step === 'stage');
    assert.equal(stage?.bytes, 1001);
    assert.equal(stage?.files, 4);
    const finish = objs.at(-1)!;
    assert.equal(finish.exitCode, 5);
    assert.equal(finish.ok, false);
    assert.deepEqual(finish.counts, { switched: 2, staged: 0, failed: 1, untouched: 0 });
    assert.deepEqual((finish.hosts as { host: string; state: string }[]).map((h) => `${h.host}:${h.state}`), ['web1:switched', 'web2:switched', 'web3:failed']);
  });

  it('the human line renderer stays silent about run, phase and release events', () => {
    for (const e of partialRun.filter((x) => x.kind === 'run' || x.kind === 'phase' || x.kind === 'release')) {
      assert.equal(formatLine(e, new Date()), undefined);
    }
  });
});

describe('--junit XML', () => {
  it('parses, with one case per host, phase and step; the failed host is a failure with its reason', () => {
    const doc = parseXml(junitXml(track(partialRun).summary()));
    assert.equal(doc.name, 'testsuites');
    const suites = new Map(findAll(doc, 'testsuite').map((s) => [s.attrs.name, s]));
    assert.deepEqual([...suites.keys()], ['shop-prod.run', 'shop-prod.hosts', 'shop-prod.phases', 'shop-prod.steps']);
    const hosts = suites.get('shop-prod.hosts')!;
    assert.equal(hosts.attrs.tests, '3');
    assert.equal(hosts.attrs.failures, '1');
    const web3 = hosts.children.find((c) => c.attrs.name === 'web3')!;
    const failure = web3.children[0]!;
    assert.equal(failure.name, 'failure');
    assert.equal(failure.attrs.type, 'switch');
    assert.equal(failure.attrs.message, 'switch failed (exit 1): mv: cannot overwrite directory');
    assert.equal(hosts.children.find((c) => c.attrs.name === 'web1')!.children.length, 0);
    const run = suites.get('shop-prod.run')!.children[0]!;
    assert.equal(run.children[0]!.attrs.type, 'exit 5');
    assert.deepEqual(suites.get('shop-prod.phases')!.children.map((c) => `${c.attrs.name}:${c.children.length ? 'fail' : 'ok'}`), ['update:ok', 'stage:ok', 'switch:fail']);
    assert.equal(suites.get('shop-prod.steps')!.children.length, 1 + 3 * 3);
    assert.equal(doc.attrs.failures, String(1 + 1 + 1 + 1), 'run, host, phase and step');
  });

  it('escapes what XML cannot carry raw', () => {
    const s = track([
      { kind: 'run', state: 'start', target: 'a-b', hosts: ['h1'] },
      { kind: 'step', host: 'h1', step: 'stage', state: 'fail', text: 'bad <tag> & "quote"\nline2 \x01', ms: 1 },
      { kind: 'run', state: 'finish', target: 'a-b', exitCode: 1, ms: 2, error: 'x' },
    ]).summary();
    const doc = parseXml(junitXml(s));
    const failure = findAll(doc, 'failure').find((f) => f.attrs.type === 'stage')!;
    assert.equal(failure.attrs.message, 'bad <tag> & "quote"\nline2 ?');
    assert.equal(failure.text, 'bad <tag> & "quote"\nline2 ?');
  });

  it('the test reader refuses what is not well-formed, so the tests above prove the report is', () => {
    const good = junitXml(track(partialRun).summary());
    assert.doesNotThrow(() => parseXml(good));
    for (const bad of [
      good.replace('</testsuites>', ''), // unclosed root
      good.replace('name="deploy"', 'name="de"ploy"'), // a raw quote ends an attribute early
      good.replace('<testsuites ', '<testsuites failures="9" '), // a repeated attribute
      good.replace('</testcase>', '<b>&nbsp;</b></testcase>'), // an entity XML does not know
      good.replace('</testcase>', '<b>a & b</b></testcase>'), // a raw ampersand
      `${good}<extra/>`, // a second root
    ]) {
      assert.notEqual(bad, good);
      assert.throws(() => parseXml(bad), /^Error: XML: /);
    }
  });

  it('a run that failed before any host still fails in Jenkins', () => {
    const doc = parseXml(junitXml(track([{ kind: 'run', state: 'finish', target: 'nope-prod', exitCode: 2, ms: 3, error: 'unknown app' }]).summary()));
    assert.equal(doc.attrs.failures, '1');
    assert.equal(findAll(doc, 'failure')[0]!.attrs.message, 'unknown app');
  });
});

describe('notification payloads', () => {
  const info = { action: 'deploy', app: 'shop', env: 'prod', deployer: 'alice' };

  it('Slack text names the failed hosts and the exit code; JSON carries the summary', () => {
    const s = track(partialRun).summary();
    const slack = JSON.parse(webhookBody('slack', info, s)) as { text: string };
    assert.deepEqual(Object.keys(slack), ['text']);
    assert.match(slack.text, /^deploy shop-prod by alice FAILED \(exit 5\) after 900ms: r3 \(c0ffee000000\) on 2\/3 hosts; failed: web3 \(switch: switch failed/);
    assert.match(slack.text, /\[shop #7 https:\/\/ci\/job\/shop\/7\/\]$/);
    const json = JSON.parse(webhookBody('json', info, s)) as Record<string, unknown>;
    assert.equal(json.exitCode, 5);
    assert.equal(json.ok, false);
    assert.deepEqual(json.release, { id: 'r3', commit: COMMIT, created: true });
    assert.equal(json.build, 'shop #7 https://ci/job/shop/7/');
  });

  it('success text', () => {
    const ok = partialRun.slice(0, -3).concat([
      { kind: 'step', host: 'web3', step: 'switch', state: 'done', text: 'live', ms: 5 },
      { kind: 'run', state: 'finish', target: 'shop-prod', exitCode: 0, ms: 1500 },
    ]);
    assert.equal(summaryText(info, track(ok).summary()), 'deploy shop-prod by alice: r3 (c0ffee000000) live on 3/3 hosts in 1.5s [shop #7 https://ci/job/shop/7/]');
  });

  it('secrets never reach a notification', () => {
    addSecrets(['hunter2-secret']);
    const tracker = new RunTracker();
    const r = redacting(tracker);
    for (const e of partialRun.slice(0, -1)) r.emit(e);
    r.emit({ kind: 'step', host: 'web1', step: 'extra', state: 'fail', text: 'token hunter2-secret leaked', ms: 1 });
    const s = tracker.summary();
    s.error = 'also hunter2-secret here';
    for (const format of ['slack', 'json'] as const) assert.doesNotMatch(webhookBody(format, info, s), /hunter2/);
  });

  it('StatsD: a counter, a timing, and a failure counter when it failed', () => {
    const s = track(partialRun).summary();
    assert.deepEqual(statsdLines('slipway', { ...info, app: 'my.app' }, s), ['slipway.my_app.prod.deploy:1|c', 'slipway.my_app.prod.deploy_ms:900|ms', 'slipway.my_app.prod.deploy_failed:1|c']);
  });
});

describe('non-interactive runs', () => {
  const tty = { stdout: { isTTY: true }, stderr: { isTTY: true } };
  it('interactive only with both streams on a terminal and CI unset', () => {
    assert.equal(isInteractive({}, tty), true);
    assert.equal(isInteractive({ CI: 'false' }, tty), true);
    assert.equal(isInteractive({ CI: '0' }, tty), true);
    assert.equal(isInteractive({ CI: 'true' }, tty), false);
    assert.equal(isInteractive({ CI: '1' }, tty), false);
    assert.equal(isInteractive({}, { stdout: { isTTY: false }, stderr: { isTTY: true } }), false);
    assert.equal(isInteractive({}, { stdout: { isTTY: true }, stderr: {} }), false);
  });
});

describe('CI build', () => {
  it("reads Jenkins' variables", () => {
    assert.equal(buildFromEnv({ JOB_NAME: 'shop/main', BUILD_NUMBER: '128', BUILD_URL: 'https://ci.example.com/job/shop/128/' }), 'shop/main #128 https://ci.example.com/job/shop/128/');
    assert.equal(buildFromEnv({ BUILD_URL: 'https://ci/x/1/' }), 'https://ci/x/1/');
    assert.equal(buildFromEnv({}), undefined);
  });
  it('refuses --build text that cannot be one trailer line', () => {
    assert.equal(checkBuildText('ok #1'), undefined);
    assert.match(checkBuildText('a\nb')!, /one line/);
    assert.match(checkBuildText('  ')!, /empty/);
  });
});
