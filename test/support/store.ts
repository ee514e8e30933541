// A release store in a temp dir for unit tests: made, handed to the test, removed.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initStore } from '../../src/release-store/store.js';

/** The facts of a release nobody cares about the details of. */
export const FACTS = { app: 'shop', env: 'prod', deployer: 'alice', source: 'a'.repeat(40), subject: 's', submodules: [] };

export async function withStore(body: (www: string) => Promise<void>): Promise<void> {
  const www = await mkdtemp(join(tmpdir(), 'slipway-store-'));
  try {
    await initStore(www);
    await body(www);
  } finally {
    await rm(www, { recursive: true, force: true });
  }
}
