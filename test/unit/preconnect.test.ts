import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AppEnv } from '../../src/config/resolve.js';
import { cannotSucceed } from '../../src/deploy/connect/preconnect.js';
import { ExitCode } from '../../src/errors.js';

const appEnv = { app: 'shop', env: 'prod', hosts: ['web1', 'web2', 'web3'].map((name) => ({ name })) } as unknown as AppEnv;
const stopped = 'stopped before the admin tasks: nothing was run or released, no host was touched';

describe('a deploy whose connections show it cannot succeed', () => {
  it('goes on while every host can be used', () => {
    assert.equal(cannotSucceed(appEnv, new Map(), stopped), undefined);
  });

  it('stops for one host that cannot be used, naming it, its reason and --exclude-hosts', () => {
    const err = cannotSucceed(appEnv, new Map([['web2', 'cannot connect to 10.0.0.2:22: connect ECONNREFUSED']]), stopped)!;
    assert.equal(err.exitCode, ExitCode.failed);
    assert.equal(
      err.message,
      '1 of 3 hosts cannot be reached, and no host is switched unless every host has the release; stopped before the admin tasks: nothing was run or released, no host was touched\n' +
        '  web2: cannot connect to 10.0.0.2:22: connect ECONNREFUSED\n' +
        'a host that is down for a while can be left out: deploy shop-prod --exclude-hosts web2',
    );
  });

  it('says so when no host can be reached', () => {
    const failures = new Map(['web1', 'web2', 'web3'].map((h) => [h, 'host key refused']));
    assert.match(cannotSucceed(appEnv, failures, stopped)!.message, /^no host of shop-prod can be reached; stopped before.*\n {2}web1: host key refused\n.*--exclude-hosts web1,web2,web3$/s);
  });
});
