import { describe, it, test } from 'node:test';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { storeGit } from '../../src/exec/git.js';
import { commitRelease } from '../../src/release-store/store.js';
import { FACTS, withStore } from '../support/store.js';
import assert from 'node:assert/strict';

import { RELEASE_TAG, type ReleaseFacts, parseTrailers, releaseId, releaseMessage } from '../../src/release-store/release.js';

const SHA = '9fceb02d0ae598e95dc970b74767f19372d61af8';
const SUB = '0123456789abcdef0123456789abcdef01234567';

function facts(over: Partial<ReleaseFacts> = {}): ReleaseFacts {
  return {
    app: 'demo',
    env: 'prod',
    deployer: 'alice',
    source: SHA,
    branch: 'main',
    subject: 'Fix the login page',
    submodules: [{ path: 'vendor/lib', sha: SUB }],
    privateFiles: ['config/settings.py', 'keys/api key.pem'],
    build: 'npm run build',
    ...over,
  };
}

/** The part of the facts that parseTrailers gives back. */
function expectedTrailers(f: ReleaseFacts) {
  return {
    deployer: f.deployer,
    source: f.source,
    ...(f.branch ? { branch: f.branch } : {}),
    submodules: f.submodules,
    privateFiles: f.privateFiles,
    ...(f.build ? { build: f.build } : {}),
  };
}

describe('releaseMessage', () => {
  test('a subject line, a blank line, then one trailer per fact', () => {
    assert.equal(
      releaseMessage('r42', facts()),
      [
        'Release r42 of demo-prod',
        '',
        'Deployed-By: alice',
        `Source-Revision: ${SHA}`,
        'Source-Branch: main',
        'Source-Subject: Fix the login page',
        `Submodule: ${SUB} vendor/lib`,
        'Private-File: config/settings.py',
        'Private-File: keys/api key.pem',
        'Build: npm run build',
        '',
      ].join('\n'),
    );
  });

  test('optional facts are left out, not written empty', () => {
    assert.equal(
      releaseMessage('r1', facts({ branch: undefined, build: undefined, submodules: [], privateFiles: [] })),
      `Release r1 of demo-prod\n\nDeployed-By: alice\nSource-Revision: ${SHA}\nSource-Subject: Fix the login page\n`,
    );
  });

  test('control characters in the subject and build are flattened to one line', () => {
    const message = releaseMessage('r7', facts({ subject: '  Fix\n\nDeployed-By: mallory\r\n\tsecond\x1b[31m red\x7f ', build: 'make\nBuild: evil' }));
    assert.ok(message.includes('Source-Subject: Fix Deployed-By: mallory second [31m red\n'), message);
    assert.ok(message.includes('Build: make Build: evil\n'), message);
    // exactly one Deployed-By trailer line survives, the real one
    assert.deepEqual(
      message.split('\n').filter((l) => l.startsWith('Deployed-By: ')),
      ['Deployed-By: alice'],
    );
    assert.equal(parseTrailers(message).deployer, 'alice');
    assert.equal(parseTrailers(message).build, 'make Build: evil');
  });
});

describe('parseTrailers', () => {
  test('round trip: every fact written is read back', () => {
    for (const f of [
      facts(),
      facts({ branch: undefined, build: undefined }),
      facts({ submodules: [], privateFiles: [] }),
      facts({ submodules: [{ path: 'path with spaces/lib', sha: SUB }, { path: 'b', sha: SHA }] }),
      facts({ privateFiles: ['a: b.txt', 'héllo/wörld'], branch: 'feature/x' }),
    ]) {
      assert.deepEqual(parseTrailers(releaseMessage('r3', f)), expectedTrailers(f));
    }
  });

  test('what git prints for %(trailers:unfold) parses the same', () => {
    // git prints only the trailer block, one per line
    const lines = `Deployed-By: bob\nSource-Revision: ${SHA}\nSource-Subject: x\nPrivate-File: .htpasswd\n`;
    assert.deepEqual(parseTrailers(lines), { deployer: 'bob', source: SHA, submodules: [], privateFiles: ['.htpasswd'] });
  });

  test('missing facts get safe defaults; unknown keys and junk lines are ignored', () => {
    assert.deepEqual(parseTrailers(''), { deployer: 'unknown', submodules: [], privateFiles: [] });
    assert.deepEqual(parseTrailers('Signed-off-by: someone\nno colon here\n:\nSubmodule: \n'), {
      deployer: 'unknown',
      submodules: [],
      privateFiles: [],
    });
  });

  test('a private file name cannot forge another fact', () => {
    // private file names come from the private directory, unchecked; a newline in one
    // must not turn into a trailer of its own
    const f = facts({ privateFiles: ['ok.txt', 'evil\nDeployed-By: mallory\nPrivate-File: /etc/shadow'] });
    const parsed = parseTrailers(releaseMessage('r9', f));
    assert.equal(parsed.deployer, 'alice');
    assert.ok(!parsed.privateFiles.includes('/etc/shadow'), `forged: ${JSON.stringify(parsed.privateFiles)}`);
  });
});

describe('release ids', () => {
  test('releaseId', () => {
    assert.equal(releaseId(1), 'r1');
    assert.equal(releaseId(42), 'r42');
  });

  test('RELEASE_TAG accepts r1..r999999999 and captures the number', () => {
    for (const [tag, n] of [['r1', '1'], ['r42', '42'], ['r100', '100'], ['r999999999', '999999999']] as const) {
      assert.equal(RELEASE_TAG.exec(tag)?.[1], n, tag);
    }
  });

  test('RELEASE_TAG refuses anything else', () => {
    for (const tag of ['r0', 'r01', 'r', '1', 'R1', 'r1a', 'r-1', ' r1', 'r1 ', 'r1\n', 'v1', 'r1.0', 'rr1', 'r1000000000', 'r42-9fceb02d0ae5']) {
      assert.ok(!RELEASE_TAG.test(tag), tag);
    }
  });
});

describe('committing a release into the store', () => {
  // git 2.39's bulk check-in under core.fsyncMethod=batch failed exactly this first release
  it('commits a first release whose first file has 0 or 1 byte, its objects in one pack, and fsck is clean', () =>
    withStore(async (www) => {
      await writeFile(join(www, 'A'), '');
      await writeFile(join(www, 'SLOW'), '1');
      await writeFile(join(www, 'index.html'), '<h1>v1</h1>\n');
      const made = await commitRelease(www, FACTS, []);
      assert.equal(made.release.id, 'r1');
      assert.ok(made.created);
      const packs = (await readdir(join(www, '.git', 'objects', 'pack'))).filter((f) => f.endsWith('.pack'));
      assert.equal(packs.length, 1, `one pack: ${packs.join(', ')}`);
      const fsck = await storeGit(www, ['fsck', '--full', '--strict']);
      assert.equal(fsck.exitCode, 0, fsck.stderr);
    }));
});
