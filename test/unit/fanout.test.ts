import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { HostSlots, type Outcome, onEachHost } from '../../src/deploy/fanout.js';
import { HostError } from '../../src/errors.js';

const hosts = (...names: string[]) => names.map((name) => ({ name }));

/** Let every pending promise callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('onEachHost', () => {
  test('collects every host\'s outcome, in host order, failures included', async () => {
    const outcomes = await onEachHost(hosts('web1', 'web2', 'web3', 'web4'), 2, async (h) => {
      if (h.name === 'web2') throw new Error('rsync exited 23');
      if (h.name === 'web3') throw new HostError('web3', 'connection refused');
      return `${h.name} ok`;
    });
    assert.deepEqual(outcomes, [
      { host: 'web1', ok: true, value: 'web1 ok' },
      { host: 'web2', ok: false, error: 'rsync exited 23' },
      { host: 'web3', ok: false, error: 'connection refused' },
      { host: 'web4', ok: true, value: 'web4 ok' },
    ] satisfies Outcome<string>[]);
  });

  test('an early failure does not stop the other hosts', async () => {
    const ran: string[] = [];
    const outcomes = await onEachHost(hosts('a', 'b', 'c', 'd', 'e'), 1, async (h) => {
      ran.push(h.name);
      if (h.name === 'a') throw new Error('first host down');
    });
    assert.deepEqual(ran, ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(outcomes.map((o) => o.ok), [false, true, true, true, true]);
  });

  test('strips only the "<this host>: " prefix from messages', async () => {
    const messages: Record<string, unknown> = {
      web1: new Error('web1: timed out'),
      web2: new Error('web1: not my name'),
      web3: new Error('web3:no space'),
      web4: new Error('web4: web4: twice'),
      web5: 'a thrown string',
      web6: new Error('web6'),
    };
    const outcomes = await onEachHost(hosts('web1', 'web2', 'web3', 'web4', 'web5', 'web6', 'web1x'), 3, async (h) => {
      throw h.name === 'web1x' ? new Error('web1: prefix of another host') : messages[h.name];
    });
    assert.deepEqual(
      outcomes.map((o) => (o.ok ? undefined : o.error)),
      ['timed out', 'web1: not my name', 'web3:no space', 'web4: twice', 'a thrown string', 'web6', 'web1: prefix of another host'],
    );
  });

  test('no hosts: no work, no outcomes', async () => {
    let calls = 0;
    assert.deepEqual(await onEachHost([], 5, async () => void calls++), []);
    assert.equal(calls, 0);
  });

  for (const [concurrency, count] of [
    [1, 5],
    [2, 5],
    [3, 7],
    [25, 4],
  ] as const) {
    test(`at most ${concurrency} host(s) at a time, ${count} hosts`, async () => {
      // every piece of work waits until the test releases it: in-flight counts are exact
      let inFlight = 0;
      let max = 0;
      const started: string[] = [];
      const release = new Map<string, () => void>();
      const run = onEachHost(hosts(...Array.from({ length: count }, (_, i) => `h${i}`)), concurrency, async (h) => {
        inFlight++;
        max = Math.max(max, inFlight);
        started.push(h.name);
        await new Promise<void>((resolve) => release.set(h.name, resolve));
        inFlight--;
        return h.name;
      });

      const expectedAtOnce = Math.min(concurrency, count);
      await settle();
      assert.equal(inFlight, expectedAtOnce, 'the pool fills up to the limit');
      // release hosts one by one, oldest first; each frees exactly one slot
      for (let done = 0; done < count; done++) {
        const next = started[done]!;
        release.get(next)!();
        await settle();
        assert.ok(inFlight <= concurrency, `${inFlight} in flight`);
        assert.equal(started.length, Math.min(count, expectedAtOnce + done + 1));
      }
      const outcomes = await run;
      assert.equal(max, expectedAtOnce);
      assert.equal(inFlight, 0);
      assert.deepEqual(outcomes.map((o) => (o.ok ? o.value : o.error)), started);
    });
  }
});

describe('HostSlots: one bound for a run', () => {
  test('two fan-outs sharing the slots never have more than its size at work together', async () => {
    const slots = new HostSlots(3);
    let inFlight = 0;
    let max = 0;
    const waiting: (() => void)[] = [];
    const work = async (h: { name: string }) => {
      inFlight++;
      max = Math.max(max, inFlight);
      await new Promise<void>((resolve) => waiting.push(resolve));
      inFlight--;
      return h.name;
    };
    // each fan-out alone would allow 3 at once: 6 together without the shared slots
    const a = onEachHost(hosts('a1', 'a2', 'a3', 'a4'), 3, work, { slots });
    const b = onEachHost(hosts('b1', 'b2', 'b3', 'b4'), 3, work, { slots });
    for (let done = 0; done < 8; done++) {
      await settle();
      assert.equal(inFlight, Math.min(3, 8 - done), `${done} done`);
      waiting.shift()!();
    }
    const outcomes = [...(await a), ...(await b)];
    assert.equal(max, 3);
    assert.ok(outcomes.every((o) => o.ok));
  });

  test('a failing operation frees its slot', async () => {
    const slots = new HostSlots(1);
    await assert.rejects(slots.run(() => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await slots.run(async () => 'next'), 'next');
  });
});
