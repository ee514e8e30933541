/** `deploy unlock <app>-<env> --force`: remove a lock whose run is gone for good. */
import { loadTarget } from '../config/load.js';
import { UsageError } from '../errors.js';
import { describeHolder, forceUnlock, isAlive, readLock } from '../flows/lock.js';
import { hostname } from 'node:os';
import { requireAccess } from './access.js';
import { type GlobalOptions, locations } from './context.js';
import { verifyAllowed } from '../flows/guard.js';

const out = (line: string) => process.stdout.write(`${line}\n`);

export async function unlockCommand(target: string, options: { force?: boolean }, globals: GlobalOptions): Promise<void> {
  const appEnv = await loadTarget(target, { ...locations(globals), gate: (groups) => verifyAllowed(target, groups) });
  const dir = appEnv.paths.state;
  requireAccess([{ path: dir, need: 'write' }]);
  const held = await readLock(dir);
  if (!held) {
    out(`${target} is not locked`);
    return;
  }
  const running = held.host === hostname() && isAlive(held.pid);
  if (!options.force) {
    throw new UsageError(
      `${target} is locked by ${describeHolder(held)}${running ? ' and that process is still running' : ''}` +
        `\nif that run is gone for good, run: deploy unlock ${target} --force`,
    );
  }
  const removed = await forceUnlock({ target, dir });
  if (removed) out(`removed the lock of ${target} held by ${describeHolder(removed)}${running ? ' (that process was still running!)' : ''}`);
}
