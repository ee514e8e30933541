import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { FullTar, sliced } from '../../src/deploy/stage/payload.js';
import { parseTreeSizes } from '../../src/release-store/delta.js';
import type { RunEvent } from '../../src/report/events.js';
import { jsonReporter } from '../../src/report/json.js';
import { formatBytes, lineReporter, memoryReporter, progressText } from '../../src/report/line.js';
import { PROGRESS_LOG_MS, PROGRESS_MIN_BYTES, PROGRESS_TICK_MS, ProgressPace, Transfer, withTransfer } from '../../src/report/progress.js';

const MB = 1024 * 1024;
const progressOf = (events: RunEvent[]) => events.filter((e) => e.kind === 'progress');

describe('Transfer', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setInterval'] }));
  afterEach(() => mock.timers.reset());

  it('reports a big transfer at every tick, also while it stalls, and stops when finished', () => {
    const r = memoryReporter();
    const t = new Transfer(r, 'web1', 'staging r2', 48 * MB).start();
    t.add(12 * MB);
    mock.timers.tick(PROGRESS_TICK_MS);
    assert.deepEqual(progressOf(r.events), [{ kind: 'progress', host: 'web1', text: 'staging r2', bytes: 12 * MB, total: 48 * MB }]);
    // nothing moves: the same figure again, so a wedged host shows a figure that stays put
    mock.timers.tick(PROGRESS_TICK_MS);
    assert.deepEqual(progressOf(r.events).map((e) => e.kind === 'progress' && e.bytes), [12 * MB, 12 * MB]);
    t.add(36 * MB);
    mock.timers.tick(PROGRESS_TICK_MS);
    t.finish();
    mock.timers.tick(10 * PROGRESS_TICK_MS);
    assert.deepEqual(progressOf(r.events).map((e) => e.kind === 'progress' && e.bytes), [12 * MB, 12 * MB, 48 * MB]);
  });

  it('says nothing about a small transfer', () => {
    const r = memoryReporter();
    const t = new Transfer(r, 'web1', 'staging r2', PROGRESS_MIN_BYTES - 1).start();
    t.add(PROGRESS_MIN_BYTES - 1);
    mock.timers.tick(20 * PROGRESS_TICK_MS);
    t.finish();
    assert.deepEqual(r.events, []);
  });

  it('with no known total, reports once the bytes sent pass the threshold, without a total', () => {
    const r = memoryReporter();
    const t = new Transfer(r, 'web2', 'staging r3').start();
    t.add(PROGRESS_MIN_BYTES - 1);
    mock.timers.tick(PROGRESS_TICK_MS);
    assert.deepEqual(r.events, []);
    t.add(1);
    mock.timers.tick(PROGRESS_TICK_MS);
    t.finish();
    assert.deepEqual(r.events, [{ kind: 'progress', host: 'web2', text: 'staging r3', bytes: PROGRESS_MIN_BYTES }]);
  });

  it('withTransfer stops reporting when the body fails', async () => {
    const r = memoryReporter();
    let held: Transfer | undefined;
    await assert.rejects(
      withTransfer(r, 'web1', 'staging r2', 8 * MB, async (t) => {
        held = t;
        t.add(MB);
        mock.timers.tick(PROGRESS_TICK_MS);
        throw new Error('host gone');
      }),
      /host gone/,
    );
    held!.add(MB);
    mock.timers.tick(10 * PROGRESS_TICK_MS);
    assert.equal(progressOf(r.events).length, 1);
  });
});

describe('ProgressPace', () => {
  const p = (host: string, bytes: number, text = 'staging r2'): RunEvent => ({ kind: 'progress', host, text, bytes, total: 100 * MB });

  it('hides a transfer’s first seconds, then lets one event per host through every few seconds', () => {
    let now = 0;
    const pace = new ProgressPace(() => now);
    assert.equal(pace.show(p('web1', 1)), false);
    now = PROGRESS_LOG_MS - 1;
    assert.equal(pace.show(p('web1', 2)), false);
    assert.equal(pace.show(p('web2', 2)), false, 'web2 starts its own count');
    now = PROGRESS_LOG_MS;
    assert.equal(pace.show(p('web1', 3)), true);
    assert.equal(pace.show(p('web1', 4)), false);
    assert.equal(pace.show(p('web2', 4)), false);
    now = 2 * PROGRESS_LOG_MS - 1;
    assert.equal(pace.show(p('web2', 5)), true);
    now = 2 * PROGRESS_LOG_MS;
    assert.equal(pace.show(p('web1', 6)), true);
  });

  it('starts again after a step of the host, or for a transfer with other text; other events always pass', () => {
    let now = 0;
    const pace = new ProgressPace(() => now);
    pace.show(p('web1', 1));
    now = PROGRESS_LOG_MS;
    assert.equal(pace.show({ kind: 'step', host: 'web1', step: 'stage', state: 'done', text: 'staged' }), true);
    assert.equal(pace.show(p('web1', 2)), false, 'the step reset the count');
    now = 2 * PROGRESS_LOG_MS;
    assert.equal(pace.show(p('web1', 3, 'staging r3')), false, 'new text, new count');
    assert.equal(pace.show({ kind: 'note', level: 'info', text: 'x' }), true);
    assert.equal(pace.show({ kind: 'output', host: 'web1', line: 'x' }), true);
  });
});

describe('progress text and views', () => {
  it('says bytes and percent, or only bytes when the total is unknown', () => {
    assert.equal(progressText({ kind: 'progress', host: 'w', text: 'staging r2', bytes: 12 * MB, total: 48 * MB }), 'staging r2: 12.0 MB of 48.0 MB (25%)');
    assert.equal(progressText({ kind: 'progress', host: 'w', text: 'staging r2', bytes: 47.99 * MB, total: 48 * MB }), 'staging r2: 48.0 MB of 48.0 MB (99%)');
    // rsync's protocol adds a little to the files' own bytes
    assert.equal(progressText({ kind: 'progress', host: 'w', text: 'staging r2', bytes: 49 * MB, total: 48 * MB }), 'staging r2: 49.0 MB of 48.0 MB (100%)');
    assert.equal(progressText({ kind: 'progress', host: 'w', text: 'staging r2', bytes: 0, total: 0 }), 'staging r2: 0 B of 0 B (100%)');
    assert.equal(progressText({ kind: 'progress', host: 'w', text: 'sending the tree ahead', bytes: 5 * MB }), 'sending the tree ahead: 5.0 MB sent');
    assert.equal(formatBytes(1536), '1.5 kB');
    assert.equal(formatBytes(3 * 1024 ** 4), '3.0 TB');
  });

  it('line mode prints a paced, timestamped progress line per host; --json the same as transfer.progress', () => {
    let now = Date.parse('2026-12-05T10:00:00Z');
    const lines: string[] = [];
    const json: string[] = [];
    const log = lineReporter((l) => lines.push(l), () => new Date(now));
    const js = jsonReporter((l) => json.push(l), () => new Date(now));
    js.begin('deploying', ['web1']);
    for (let i = 0; i <= 48; i++) {
      const e: RunEvent = { kind: 'progress', host: 'web1', text: 'staging r2', bytes: i * MB, ...(i < 30 ? { total: 48 * MB } : {}) };
      log.emit(e);
      js.emit(e);
      now += PROGRESS_TICK_MS;
    }
    // 12 s of ticks: nothing in the first 5 s, then at 5 s and 10 s
    assert.deepEqual(lines, ['2026-12-05T10:00:05Z [web1] staging r2: 20.0 MB of 48.0 MB (41%)', '2026-12-05T10:00:10Z [web1] staging r2: 40.0 MB sent']);
    const docs = json.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(docs.map(({ type, host, text, bytes, total }) => ({ type, host, text, bytes, total })), [
      { type: 'transfer.progress', host: 'web1', text: 'staging r2', bytes: 20 * MB, total: 48 * MB },
      { type: 'transfer.progress', host: 'web1', text: 'staging r2', bytes: 40 * MB, total: null },
    ]);
  });
});

describe('what a host is handed, counted', () => {
  async function drain(stream: Readable): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const part of stream) parts.push(part as Buffer);
    return Buffer.concat(parts);
  }

  it('a full tar streamed to a host counts every byte once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-progress-'));
    try {
      const bytes = Buffer.alloc(3 * MB + 17, 7);
      await writeFile(join(dir, 't.tar'), bytes);
      const tar = new FullTar(join(dir, 't.tar'), bytes.length, 1);
      let sent = 0;
      const got = await drain(tar.stream((n) => (sent += n)));
      assert.equal(sent, bytes.length);
      assert.ok(got.equals(bytes));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a tar in memory goes in slices, each counted as it is handed on', async () => {
    const tar = Buffer.from(Array.from({ length: 2500 }, (_, i) => i % 251));
    const counts: number[] = [];
    const got = await drain(sliced(tar, (n) => counts.push(n), 1000));
    assert.deepEqual(counts, [1000, 1000, 500]);
    assert.ok(got.equals(tar));
  });

  it('reads each path’s size from ls-tree, whatever its name holds', () => {
    const sizes = parseTreeSizes(['100644 blob 0123abcd      12\ta', '100755 blob 4567ef01 30\tb\tc\nd', '120000 blob 89abcdef 5\tlink', '160000 commit 89ab       -\tvendor', ''].join('\0'));
    assert.deepEqual([...sizes], [['a', 12], ['b\tc\nd', 30], ['link', 5], ['vendor', 0]]);
  });
});
