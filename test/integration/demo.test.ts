/**
 * `make demo`, the README's first command, as a new user runs it: demo/run.sh starts a 3-host
 * fleet, makes the demo app's repos and private settings, deploys for real and shows what
 * every host serves; run again, it deploys "no change". Its own loopback /24 and directory, so
 * a demo someone left running is not touched.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { execa } from 'execa';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const NET = '127.0.86';

describe('make demo', { timeout: 300_000 }, () => {
  let dir: string | undefined;
  const env = () => ({ ...process.env, SLIPWAY_DEMO_DIR: dir!, SLIPWAY_DEMO_NET: NET });
  const demo = () => execa('bash', [join(REPO, 'demo', 'run.sh')], { cwd: REPO, env: env(), reject: false, all: true });

  after(async () => {
    if (!dir) return;
    await execa('bash', [join(REPO, 'test', 'fleet', 'fleet.sh'), 'down'], { env: { ...env(), FLEET_DIR: join(dir, 'fleet'), FLEET_CLEAN: '1' }, reject: false });
    await rm(dir, { recursive: true, force: true });
  });

  it('deploys the demo app to its fleet, every host serving the same release; a second run changes nothing', async () => {
    dir = await mkdtemp('/tmp/slipway-demo-it-');
    const first = await demo();
    assert.equal(first.exitCode, 0, first.all);
    assert.match(first.all!, /demo-prod: r1 \([0-9a-f]{12}\) live on 3\/3 hosts/);
    const served = [...first.all!.matchAll(/^web(\d) serves: (.*) \(asset version ([0-9a-f]{7,})\)$/gm)];
    assert.deepEqual(served.map((m) => m[1]), ['1', '2', '3'], first.all);
    for (const m of served) {
      assert.equal(m[2], '<h1>Slipway demo</h1><p>one release, the same on every host</p>');
      assert.equal(m[3], served[0]![3], 'one release on every host');
    }
    // the private settings and the tasks' .env are deployed, never shown
    for (const secret of ['demo-not-a-real-secret', 's3cr3t-asset-salt']) assert.ok(!first.all!.includes(secret), `${secret} was printed`);

    const again = await demo();
    assert.equal(again.exitCode, 0, again.all);
    assert.match(again.all!, /no change since r1: no new release/);
    assert.match(again.all!, /demo-prod: r1 \([0-9a-f]{12}\) live on 3\/3 hosts/);
  });
});
