import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  checkAbsolutePath,
  checkAppName,
  checkEnvName,
  checkHostName,
  checkRefName,
  checkRelativePath,
  checkRemotePath,
  checkRepo,
  splitTarget,
} from '../../src/config/names.js';

type Check = (value: string) => string | undefined;

function accepts(check: Check, values: string[]): void {
  for (const v of values) assert.equal(check(v), undefined, `${check.name} should accept ${JSON.stringify(v)}`);
}

function refuses(check: Check, values: string[]): void {
  for (const v of values) {
    const reason = check(v);
    assert.equal(typeof reason, 'string', `${check.name} should refuse ${JSON.stringify(v)}`);
    assert.ok(reason!.length > 0);
  }
}

/** What every name check must refuse: path tricks, shell syntax, whitespace, control bytes, options. */
const HOSTILE = ['', '../x', '..', 'a/b', 'a;b', '$(x)', '`x`', "a'b", 'a"b', 'a b', ' a', 'a\nb', 'a\0b', 'a\tb', '-a', '--a', 'a\\b', 'a|b', 'a&b', 'a*'];

describe('checkAppName', () => {
  test('accepts lower-case words joined by single "-" or "_"', () => {
    accepts(checkAppName, ['a', 'demo', 'app2', 'case-conductor', 'my_app', 'a-b-c', 'a1-2', 'x_y-z', 'a'.repeat(64)]);
  });
  test('refuses hostile and malformed names', () => {
    refuses(checkAppName, [...HOSTILE, 'Demo', 'DEMO', '1app', '_app', 'a--b', 'a__b', 'a-', 'a_', 'a.b', 'a-_b', 'é', 'a'.repeat(65)]);
  });
});

describe('checkEnvName', () => {
  test('accepts one lower-case word', () => {
    accepts(checkEnvName, ['prod', 'staging2', 'pre_prod', 'a', 'a'.repeat(32)]);
  });
  test('refuses hyphens (the target splits at the last one) and hostile names', () => {
    refuses(checkEnvName, [...HOSTILE, 'pre-prod', 'Prod', '1prod', '_prod', 'prod ', 'prod.', 'a'.repeat(33)]);
  });
});

describe('checkHostName', () => {
  test('accepts DNS names and IPv4/IPv6 addresses', () => {
    accepts(checkHostName, [
      'web1',
      'WEB1',
      'localhost',
      'web-1.example.com',
      'a.b.c.d.e',
      'x'.repeat(63),
      `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`, // 253 characters
      '127.0.0.1',
      '10.1.2.3',
      '::1',
      'fe80::1',
      '2001:db8::1',
      '::ffff:192.0.2.1',
    ]);
  });
  test('refuses malformed and hostile host names', () => {
    refuses(checkHostName, [
      ...HOSTILE,
      '-web',
      'web-',
      'web_1',
      'a..b',
      '.a',
      'a.',
      'x'.repeat(64),
      `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`, // 254 characters
      '[::1]',
      'web1:22',
      'root@web1',
      'web1/x',
      'wéb1',
      '::1;id',
    ]);
  });
});

describe('checkRefName', () => {
  test('accepts ordinary branch names', () => {
    accepts(checkRefName, ['main', 'master', 'feature/x', 'release-1.2', 'a.b', 'a@b', 'v1.0.0', 'héllo', 'a./b', 'a.lock.b', 'HEAD']);
  });
  test("refuses git's forbidden forms", () => {
    refuses(checkRefName, [
      '',
      'a..b',
      '../x',
      'a@{1}',
      '@{-1}',
      '@',
      'x.lock',
      'a/b.lock/c',
      'a/',
      'a.',
      'a/b.',
      '/a',
      'a//b',
      '.a',
      'a/.b',
      '.',
      'a b',
      'a\nb',
      'a\0b',
      'a\tb',
      'a\x7fb',
      'a~1',
      'a^',
      'a:b',
      'a?',
      'a*',
      'a[',
      'a\\b',
      'x'.repeat(256),
    ]);
  });
  test('refuses a leading "-" so a ref can never be read as an option', () => {
    assert.equal(checkRefName('-a'), 'a ref cannot start with "-"');
    assert.equal(checkRefName('--upload-pack=x'), 'a ref cannot start with "-"');
    assert.equal(checkRefName('a-b'), undefined);
  });

  describe('agrees with git check-ref-format --branch', () => {
    let repo: string;
    before(() => {
      repo = mkdtempSync(join(tmpdir(), 'slipway-refs-'));
      const r = spawnSync('git', ['init', '-q', repo]);
      assert.equal(r.status, 0, r.stderr.toString());
    });
    after(() => rmSync(repo, { recursive: true, force: true }));

    // '@' and 'HEAD' are left out on purpose: `--branch` resolves them to the current
    // branch, while checkRefName judges the literal name (it refuses '@', and accepts
    // HEAD as a revision).
    const table = [
      'main',
      'feature/x',
      'release-1.2',
      'a.b',
      'a./b',
      'a.lock.b',
      'a@b',
      'a@',
      'a{b',
      'a}',
      'héllo',
      // shell syntax is legal in git refs; they are passed as argv, never through a shell
      '$(x)',
      '`x`',
      "a'b",
      'a"b',
      'a;b',
      'a..b',
      '../x',
      'a@{1}',
      '@{-1}',
      'x.lock',
      'a/b.lock/c',
      'foo.lock/bar',
      'a/',
      'a.',
      'a/b.',
      '/a',
      'a//b',
      '.a',
      'a/.b',
      'a/.',
      '.',
      'a b',
      'a\tb',
      'a\x7fb',
      'a~1',
      'a^',
      'a:b',
      'a?',
      'a*',
      'a[',
      'a\\b',
      '-a',
      '-',
    ];
    for (const ref of table) {
      test(JSON.stringify(ref), () => {
        const git = spawnSync('git', ['check-ref-format', '--branch', ref], { cwd: repo });
        // Slipway is stricter than git on purpose: shell metacharacters in a ref are refused
        const gitAccepts = git.status === 0 && !/[\s'"$`;&|<>\\()]/.test(ref);
        const ours = checkRefName(ref) === undefined;
        assert.equal(ours, gitAccepts, `git ${gitAccepts ? 'accepts' : 'refuses'} ${JSON.stringify(ref)}, checkRefName ${ours ? 'accepts' : 'refuses'} it`);
      });
    }
  });
});

describe('checkAbsolutePath', () => {
  test('accepts absolute paths', () => {
    accepts(checkAbsolutePath, ['/', '/data', '/data/www/app', '/data/www/app/', '/a//b', '/.ssh/id', '/home/u/.ssh/known_hosts', '/data/www/héllo']);
  });
  test('refuses relative, traversing, option-like and control-character paths', () => {
    refuses(checkAbsolutePath, [
      '',
      'data',
      './data',
      '../x',
      '~/x',
      '/a/../b',
      '/a/..',
      '/..',
      '/a/./b',
      '/.',
      '/-x',
      '/a/-b',
      '/a/--delete',
      '/a\nb',
      '/a\0b',
      '/a\tb',
      '/a\x7f',
      '/a\x1b[31m',
      '/a b/c',
      "/a'b",
      '/a;b',
      '/$(x)',
      '/a`b`',
    ]);
  });
});

describe('checkRelativePath', () => {
  test('accepts relative paths inside a tree', () => {
    accepts(checkRelativePath, ['.env', 'a', 'a/b', 'config/settings.py', '.', 'a/./b', '..a', 'a..', 'a/b-c']);
  });
  test('refuses absolute, traversing, option-like and control-character paths', () => {
    refuses(checkRelativePath, ['', '/abs', '/', '..', '../x', 'a/../b', 'a/..', '-x', 'a/-x', '--delete', 'a\nb', 'a\0b', 'a\tb', 'a\x7f', 'a b', 'a;b', '$(x)', "a'b"]);
  });
});

describe('splitTarget', () => {
  test('splits <app>-<env> at the last hyphen', () => {
    assert.deepEqual(splitTarget('demo-prod'), { app: 'demo', env: 'prod' });
    assert.deepEqual(splitTarget('case-conductor-prod'), { app: 'case-conductor', env: 'prod' });
    assert.deepEqual(splitTarget('my_app-pre_prod'), { app: 'my_app', env: 'pre_prod' });
    assert.deepEqual(splitTarget('a-b'), { app: 'a', env: 'b' });
  });
  test('returns undefined for anything that is not two valid names', () => {
    for (const target of [
      '',
      'demo',
      '-prod',
      'demo-',
      '-',
      '--',
      'demo--prod',
      'Demo-prod',
      'demo-Prod',
      '../x-prod',
      'a/b-prod',
      'a;b-prod',
      '$(x)-prod',
      '`x`-prod',
      "a'b-prod",
      'a b-prod',
      'demo-prod;id',
      'demo-prod\n',
      'demo-pr od',
      'demo-prod\0',
      '_fleet-prod',
      'demo-_prod',
    ]) {
      assert.equal(splitTarget(target), undefined, JSON.stringify(target));
    }
  });
});

describe('checkRepo', () => {
  test('URLs, scp-like addresses and absolute paths pass', () => {
    for (const repo of ['https://github.com/mozilla/caseconductor-platform.git', 'ssh://git@example.com:2222/shop.git', 'git://example.com/shop', 'file:///srv/git/shop.git', 'git@github.com:mozilla/shop.git', 'example.com:shop.git', '/srv/git/shop.git']) {
      assert.equal(checkRepo(repo), undefined, repo);
    }
  });
  test('shell characters, options, remote helpers and relative paths are refused', () => {
    for (const repo of ['', '/srv/x.git;id', 'https://e.com/$(id)', '/srv/x `id`', '/srv/x.git --upload-pack=id', '-uhelp', 'ext::sh -c id', 'fd::3', 'transport::x', '../shop.git', 'shop.git', '/srv/../etc', 'https://e.com/a\nb']) {
      assert.ok(checkRepo(repo), `${JSON.stringify(repo)} is refused`);
    }
  });
});

describe('checkRemotePath', () => {
  test('a directory of its own passes', () => {
    for (const path of ['/data/www/shop', '/srv/www/shop', '/var/www/shop', '/home/web/shop']) assert.equal(checkRemotePath(path), undefined, path);
  });
  test('system directories, and anything inside the system trees, are refused', () => {
    for (const path of ['/', '/etc', '/etc/shop', '/usr/local/www', '/var', '/tmp', '/root', '/data', '/proc/1', '/boot/x']) assert.match(checkRemotePath(path) ?? '', /is a system directory/, path);
  });
});
