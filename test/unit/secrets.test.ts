import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { storeGit } from '../../src/exec/git.js';
import { commitRelease } from '../../src/release-store/store.js';
import type { Release } from '../../src/release-store/release.js';
import { secretsOfText, storeSecrets } from '../../src/secrets.js';
import { FACTS, withStore } from '../support/store.js';

describe("the secrets of the store's releases", () => {
  it('are those of every distinct private file each release committed, read in one batch (multi-byte text and sizes included)', async () => {
    await withStore(async (www) => {
      const releases: Release[] = [];
      const release = async (files: Record<string, string>, privateFiles: string[]) => {
        for (const [path, body] of Object.entries(files)) {
          await mkdir(join(www, path, '..'), { recursive: true });
          await writeFile(join(www, path), body);
        }
        releases.unshift((await commitRelease(www, FACTS, privateFiles)).release);
      };
      await release({ 'settings.py': 'SECRET_KEY = "päßwörd-one"\nDEBUG = False\n', 'conf/db.ini': 'password: hunter2-db\n', 'public.txt': 'not a secret at all' }, ['settings.py', 'conf/db.ini']);
      await release({ 'settings.py': 'SECRET_KEY = "rotated-€-two"\n' }, ['settings.py', 'conf/db.ini']);
      // a release without private files, and one whose settings are bigger than a settings file
      await release({ 'index.html': 'v3' }, []);
      await release({ 'settings.py': `BIG = "${'x'.repeat(1024 * 1024)}"\n` }, ['settings.py']);
      const got = await storeSecrets(www, releases);
      // the old way, one git process per blob: what each distinct file of each release holds
      const expected: string[] = [];
      for (const text of new Set(await Promise.all(['r1:settings.py', 'r1:conf/db.ini', 'r2:settings.py'].map(async (spec) => (await storeGit(www, ['cat-file', 'blob', spec])).stdout)))) expected.push(...secretsOfText(text));
      assert.deepEqual([...new Set(got)].sort(), [...new Set(expected)].sort());
      for (const s of ['päßwörd-one', 'hunter2-db', 'rotated-€-two']) assert.ok(got.includes(s), s);
      assert.ok(!got.some((s) => s.includes('not a secret') || s.startsWith('BIG')), 'public files and oversized ones are not read');
      assert.deepEqual(await storeSecrets(www, releases.slice(1, 2)), [], 'a release without private files');
    });
  });
});
