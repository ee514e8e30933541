import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import type { Reporter, RunEvent } from '../../src/report/events.js';
import { formatDuration, formatLine, lineReporter, memoryReporter, plural, stepText } from '../../src/report/line.js';
import { clampColumns } from '../../src/report/tty.js';
import { REDACTED, addSecrets, redact, redacting } from '../../src/report/redact.js';

const NOW = new Date('2024-05-06T07:08:09.123Z');
const TS = '2024-05-06T07:08:09Z';

describe('formatDuration', () => {
  const table: [number, string][] = [
    [0, '0ms'],
    [1, '1ms'],
    [12.4, '12ms'],
    [999, '999ms'],
    [1000, '1.0s'],
    [1049, '1.0s'],
    [1050, '1.1s'],
    [2500, '2.5s'],
    [59_900, '59.9s'],
    [60_000, '1m0s'],
    [61_000, '1m1s'],
    [90_400, '1m30s'],
    [125_000, '2m5s'],
    [3_600_000, '60m0s'],
  ];
  for (const [ms, text] of table) {
    test(`${ms} ms → ${text}`, () => assert.equal(formatDuration(ms), text));
  }

  test('rounding never shows a unit at its own limit (no "1000ms", "60.0s" or "1m60s")', () => {
    // each of these rounds up into the next unit and must be shown in it
    assert.equal(formatDuration(999.6), '1.0s');
    assert.equal(formatDuration(59_970), '1m0s');
    assert.equal(formatDuration(119_600), '2m0s');
  });
});

describe('formatLine', () => {
  const cases: [string, RunEvent, string | undefined][] = [
    ['a started step is silent', { kind: 'step', host: 'web1', step: 'stage', state: 'start', text: 'staging r42' }, undefined],
    [
      'a finished step: host, text, duration',
      { kind: 'step', host: 'web1', step: 'stage', state: 'done', text: 'staged r42 (2 files, 3.1 kB)', ms: 1530 },
      `${TS} [web1] staged r42 (2 files, 3.1 kB) in 1.5s`,
    ],
    [
      'a failed step says FAILED, with its duration before the error',
      { kind: 'step', host: 'web3', step: 'switch', state: 'fail', text: 'release r42 is not staged', ms: 250 },
      `${TS} [web3] FAILED after 250ms: release r42 is not staged`,
    ],
    [
      'a failed step without duration',
      { kind: 'step', host: 'web3', step: 'connect', state: 'fail', text: 'connection refused' },
      `${TS} [web3] FAILED: connection refused`,
    ],
    ['a skipped step', { kind: 'step', host: 'admin', step: 'release', state: 'skip', text: 'unchanged', ms: 5 }, `${TS} [admin] unchanged in 5ms`],
    ['a step without duration', { kind: 'step', host: 'admin', step: 'x', state: 'done', text: 'done' }, `${TS} [admin] done`],
    ['a step with a zero duration still shows it', { kind: 'step', host: 'admin', step: 'x', state: 'done', text: 'done', ms: 0 }, `${TS} [admin] done in 0ms`],
    ['task output', { kind: 'output', host: 'admin', line: 'compressing 3 files' }, `${TS} [admin] | compressing 3 files`],
    ['an info note', { kind: 'note', level: 'info', text: 'deployed r42 to 3 hosts' }, `${TS} deployed r42 to 3 hosts`],
    ['a warning', { kind: 'note', level: 'warn', text: 'web2 is slow' }, `${TS} WARN: web2 is slow`],
    ['an error', { kind: 'note', level: 'error', text: '1 host failed' }, `${TS} ERROR: 1 host failed`],
  ];
  for (const [name, event, line] of cases) {
    test(name, () => assert.equal(formatLine(event, NOW), line));
  }

  test('timestamps are UTC, to the second', () => {
    assert.equal(
      formatLine({ kind: 'note', level: 'info', text: 'x' }, new Date('1999-12-31T23:59:59.999Z')),
      '1999-12-31T23:59:59Z x',
    );
  });
});

describe('durations are never glued onto an error', () => {
  const error = 'host key for 127.27.0.3 does not match known_hosts line 2: possible man-in-the-middle attack';
  const multi = 'switch failed (exit 1):\nmv: cannot move';
  test('the line view puts the duration before the message, which ends the line as it was written', () => {
    const line = formatLine({ kind: 'step', host: 'web3', step: 'connect', state: 'fail', text: error, ms: 168 }, NOW)!;
    assert.equal(line, `${TS} [web3] FAILED after 168ms: ${error}`);
    assert.ok(line.endsWith('attack'));
    assert.ok(formatLine({ kind: 'step', host: 'web3', step: 'switch', state: 'fail', text: multi, ms: 1530 }, NOW)!.endsWith('mv: cannot move'));
  });
  test('the TTY view shows the same text as the line view', () => {
    assert.equal(stepText({ kind: 'step', host: 'web3', step: 'connect', state: 'fail', text: error, ms: 168 }), `FAILED after 168ms: ${error}`);
    assert.equal(stepText({ kind: 'step', host: 'web1', step: 'stage', state: 'done', text: 'staged r42', ms: 1530 }), 'staged r42 in 1.5s');
  });
});

describe('plural', () => {
  test('one is singular, zero and many are plural', () => {
    assert.equal(plural(1, 'file'), '1 file');
    assert.equal(plural(0, 'file'), '0 files');
    assert.equal(plural(2, 'host'), '2 hosts');
    assert.equal(plural(3, 'difference'), '3 differences');
    assert.equal(plural(1, 'entry', 'entries'), '1 entry');
    assert.equal(plural(2, 'entry', 'entries'), '2 entries');
  });
});

describe('TTY width', () => {
  test('a terminal that reports 0 columns or none is laid out 80 wide, a tiny one 20; a real width is kept', () => {
    const table: [number | undefined, number][] = [[0, 80], [undefined, 80], [-1, 80], [Number.NaN, 80], [3, 20], [20, 20], [132, 132]];
    for (const [given, used] of table) {
      const out: { columns?: number } = given === undefined ? {} : { columns: given };
      clampColumns(out);
      assert.equal(out.columns, used, `columns ${given}`);
    }
  });
});

describe('lineReporter', () => {
  test('writes the title, then one line per finished step, with the given clock', async () => {
    const lines: string[] = [];
    const r = lineReporter((l) => lines.push(l), () => NOW);
    r.begin('deploy demo-prod', ['web1', 'web2']);
    r.emit({ kind: 'step', host: 'web1', step: 'stage', state: 'start', text: 'staging' });
    r.emit({ kind: 'step', host: 'web1', step: 'stage', state: 'done', text: 'staged r1', ms: 42 });
    r.emit({ kind: 'output', host: 'admin', line: 'hello' });
    await r.close();
    assert.deepEqual(lines, [`${TS} deploy demo-prod`, `${TS} [web1] staged r1 in 42ms`, `${TS} [admin] | hello`]);
  });
});

describe('memoryReporter', () => {
  test('collects events in order and prints nothing', async () => {
    const r = memoryReporter();
    const events: RunEvent[] = [
      { kind: 'note', level: 'info', text: 'a' },
      { kind: 'output', host: 'admin', line: 'b' },
    ];
    r.begin('t', []);
    for (const e of events) r.emit(e);
    await r.close();
    assert.deepEqual(r.events, events);
  });
});

// The secret registry is process-wide; every test registers its own distinct values.
describe('redact', () => {
  test('replaces every occurrence of a registered value', () => {
    addSecrets(['hunter2-pw']);
    assert.equal(redact('pw=hunter2-pw; again hunter2-pw.'), `pw=${REDACTED}; again ${REDACTED}.`);
    assert.equal(redact('nothing secret here'), 'nothing secret here');
  });

  test('values shorter than 3 characters are ignored (they would redact ordinary words)', () => {
    addSecrets(['', 'a', 'on', '1']);
    assert.equal(redact('a line on 1 host'), 'a line on 1 host');
    addSecrets(['xyz']);
    assert.equal(redact('wxyz'), `w${REDACTED}`);
  });

  test('longest first: a secret containing another is removed whole', () => {
    addSecrets(['tok42', 'tok42-extended-secret']);
    assert.equal(redact('A tok42-extended-secret B tok42 C'), `A ${REDACTED} B ${REDACTED} C`);
    // registration order does not matter
    addSecrets(['zz-longer-value-99']);
    addSecrets(['zz-longer']);
    assert.equal(redact('zz-longer-value-99'), REDACTED);
  });

  test('special characters in values are matched literally, not as patterns', () => {
    addSecrets(['p@$$.w*rd(1)', 'a+b?c']);
    assert.equal(redact('x p@$$.w*rd(1) y a+b?c z pXXXwrd(1) abc'), `x ${REDACTED} y ${REDACTED} z pXXXwrd(1) abc`);
  });

  test('registering the same value twice is harmless', () => {
    addSecrets(['dup-secret-1', 'dup-secret-1']);
    addSecrets(['dup-secret-1']);
    assert.equal(redact('dup-secret-1'), REDACTED);
  });
});

describe('redacting', () => {
  function recorder(): Reporter & { titles: string[]; hostLists: (readonly string[])[]; events: RunEvent[]; closed: number } {
    const rec = {
      titles: [] as string[],
      hostLists: [] as (readonly string[])[],
      events: [] as RunEvent[],
      closed: 0,
      begin: (title: string, hosts: readonly string[]) => {
        rec.titles.push(title);
        rec.hostLists.push(hosts);
      },
      emit: (e: RunEvent) => void rec.events.push(e),
      close: async () => {
        rec.closed++;
      },
    };
    return rec;
  }

  test('redacts titles and every kind of event text before the inner reporter sees them', async () => {
    addSecrets(['s3cr3t-value']);
    const inner = recorder();
    const r = redacting(inner);
    r.begin('deploy with s3cr3t-value', ['web1']);
    r.emit({ kind: 'step', host: 'web1', step: 'task', state: 'fail', text: 'failed: s3cr3t-value', ms: 3 });
    r.emit({ kind: 'output', host: 'admin', line: 'TOKEN=s3cr3t-value' });
    r.emit({ kind: 'note', level: 'warn', text: 's3cr3t-value leaked?' });
    await r.close();
    assert.deepEqual(inner.titles, [`deploy with ${REDACTED}`]);
    assert.deepEqual(inner.hostLists, [['web1']]);
    assert.deepEqual(inner.events, [
      { kind: 'step', host: 'web1', step: 'task', state: 'fail', text: `failed: ${REDACTED}`, ms: 3 },
      { kind: 'output', host: 'admin', line: `TOKEN=${REDACTED}` },
      { kind: 'note', level: 'warn', text: `${REDACTED} leaked?` },
    ]);
    assert.equal(inner.closed, 1);
  });

  test('secrets registered after the reporter was made are redacted too', () => {
    const inner = recorder();
    const r = redacting(inner);
    addSecrets(['late-secret-77']);
    r.emit({ kind: 'output', host: 'admin', line: 'late-secret-77' });
    assert.deepEqual(inner.events, [{ kind: 'output', host: 'admin', line: REDACTED }]);
  });

  test('events are copied, never changed in place', () => {
    addSecrets(['inplace-secret']);
    const inner = recorder();
    const event: RunEvent = { kind: 'output', host: 'admin', line: 'inplace-secret' };
    redacting(inner).emit(event);
    assert.equal(event.line, 'inplace-secret');
  });

  test('a multi-line secret printed by a task, line by line, is not shown', () => {
    // dotenv values can span lines (a PEM key in double quotes); task output
    // reaches reporters one line at a time
    const key = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';
    addSecrets([key]);
    const inner = recorder();
    const r = redacting(inner);
    for (const line of `key is:\n${key}\n`.split('\n')) r.emit({ kind: 'output', host: 'admin', line });
    const shown = inner.events.map((e) => (e.kind === 'output' ? e.line : '')).join('\n');
    assert.ok(!shown.includes('MIIEvQIBADANBgkqhkiG9w0BAQEFAASC'), `secret body shown:\n${shown}`);
  });
});
