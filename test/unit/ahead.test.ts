import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { AppEnv } from '../../src/config/resolve.js';
import { SendAhead } from '../../src/deploy/stage/ahead.js';
import type { Preconnected } from '../../src/deploy/connect/preconnect.js';
import { HostSlots } from '../../src/deploy/fanout.js';
import type { HostState } from '../../src/deploy/remote-output.js';
import type { HostConnection } from '../../src/exec/runner.js';
import { commitRelease } from '../../src/release-store/store.js';
import { FACTS, withStore } from '../support/store.js';

/** Hosts that "receive" the tar: the bytes are read to the end and counted. */
function fleet(states: Record<string, HostState | undefined>, received: Map<string, number>): Preconnected {
  const session = (name: string) =>
    ({
      host: { name },
      async run(_cmd: unknown, options: { input?: Readable }) {
        let n = 0;
        for await (const chunk of options.input!) n += (chunk as Buffer).length;
        received.set(name, n);
        return { exitCode: 0, stdout: 'ahead\n', stderr: '' };
      },
    }) as unknown as HostConnection;
  const names = Object.keys(states);
  const unused = Promise.reject(new Error('unused'));
  unused.catch(() => undefined);
  return {
    slots: new HostSlots(2),
    connector: unused,
    sessions: new Map(names.map((n) => [n, Promise.resolve(session(n))])),
    looks: new Map(names.map((n) => [n, Promise.resolve(undefined)])),
    states: new Map(names.map((n) => [n, Promise.resolve(states[n])])),
    failures: async () => new Map(),
    close() {},
  };
}

describe('sending the tree ahead of the commit', () => {
  it('goes only to hosts with no release, and counts only if the commit holds exactly the paths sent', () =>
    withStore(async (www) => {
      const state = await mkdtemp(join(tmpdir(), 'slipway-ahead-state-'));
      await writeFile(join(www, 'index.html'), 'v1\n');
      await writeFile(join(www, 'app.js'), 'x\n');
      const appEnv = {
        hosts: [{ name: 'empty' }, { name: 'has-one' }, { name: 'unprobed' }],
        parallel: 2,
        remote: { path: '/data/www/shop', transfer: 'auto' },
        paths: { www, state, aheadTar: join(state, 'ahead.tar') },
      } as unknown as AppEnv;
      const received = new Map<string, number>();
      const ahead = new SendAhead(appEnv, fleet({ empty: { have: new Map() }, 'has-one': { have: new Map([['r1-aaaaaaaaaaaa', 'a'.repeat(40)]]) }, unprobed: undefined }, received));
      ahead.start(Promise.resolve());
      const r1 = (await commitRelease(www, FACTS, [])).release;
      const sent = await ahead.sentFor('empty', r1);
      assert.ok(sent, 'the empty host has the tree of r1');
      assert.equal(sent.files, 2);
      assert.equal(received.get('empty'), sent.bytes);
      assert.equal(await ahead.sentFor('has-one', r1), undefined, 'a host with a release gets a delta later instead');
      assert.equal(await ahead.sentFor('unprobed', r1), undefined);
      assert.deepEqual([...received.keys()], ['empty']);
      assert.equal((await ahead.tarFor(r1))?.file, sent.file, 'a host whose transfer failed is sent the same tar, not a second one');

      await writeFile(join(www, 'late.txt'), 'not in what was sent\n');
      const r2 = (await commitRelease(www, FACTS, [])).release;
      assert.equal(await ahead.sentFor('empty', r2), undefined, 'a commit holding other paths than those sent: the host is sent the release as usual');
      assert.equal(await ahead.tarFor(r2), undefined);
      await ahead.close();
      await rm(state, { recursive: true, force: true });
    }));
});
