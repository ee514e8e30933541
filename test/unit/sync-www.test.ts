import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { AppEnv } from '../../src/config/resolve.js';
import { filesUnder, initStore, syncIntoWww } from '../../src/release-store/store.js';

async function withTrees(body: (appEnv: AppEnv, src: string, www: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-sync-'));
  const [src, www, priv] = [join(dir, 'src'), join(dir, 'www'), join(dir, 'private')];
  try {
    await mkdir(join(src, '.git'), { recursive: true });
    await writeFile(join(src, '.git', 'HEAD'), 'ref: refs/heads/main\n');
    await initStore(www);
    const appEnv = { exclude: [], privateEnvFile: '.env', paths: { src, www, private: priv } } as unknown as AppEnv;
    await body(appEnv, src, www);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const ino = (path: string) => statSync(path).ino;

describe('syncing the checkout into the www tree', () => {
  it('links every file of a first release to the checkout, then follows changes and deletions without touching the rest', () =>
    withTrees(async (appEnv, src, www) => {
      await writeFile(join(src, 'index.html'), 'v1\n');
      await writeFile(join(src, 'app.js'), 'x\n');
      await writeFile(join(src, 'gone.txt'), 'soon deleted\n');
      await syncIntoWww(appEnv);
      assert.equal(ino(join(www, 'index.html')), ino(join(src, 'index.html')), 'the first release copies no bytes');
      assert.equal(readFileSync(join(www, '.git', 'HEAD'), 'utf8'), 'ref: refs/heads/releases\n', "the checkout's .git never lands in the store");

      // git replaces a file it changes (a new inode); a later sync follows it
      await rm(join(src, 'index.html'));
      await writeFile(join(src, 'index.html'), 'v2\n');
      await rm(join(src, 'gone.txt'));
      const appBefore = ino(join(www, 'app.js'));
      await syncIntoWww(appEnv);
      assert.equal(readFileSync(join(www, 'index.html'), 'utf8'), 'v2\n');
      assert.ok(!existsSync(join(www, 'gone.txt')), 'a file deleted from the checkout leaves the release');
      assert.equal(ino(join(www, 'app.js')), appBefore, 'an unchanged file is left alone');
    }));
});

describe('listing a tree', () => {
  it('gives files and symlinks as sorted relative paths, and never enters a skipped top-level dir', () =>
    withTrees(async (_appEnv, _src, www) => {
      await mkdir(join(www, 'static', 'css'), { recursive: true });
      await mkdir(join(www, 'empty'));
      await writeFile(join(www, 'static', 'css', 'site.css'), 'x\n');
      await writeFile(join(www, 'index.html'), 'x\n');
      await symlink('index.html', join(www, 'home.html'));
      await writeFile(join(www, '.gitkeep'), '');
      assert.deepEqual(await filesUnder(www, ['.git']), ['.gitkeep', 'home.html', 'index.html', 'static/css/site.css']);
      assert.ok((await filesUnder(www)).includes('.git/HEAD'), 'without a skip, the store itself is listed');
    }));
});
