/**
 * `deploy worker`: runs the dashboard's requests as root (src/worker). Started by root
 * itself (a systemd unit), never through sudo: someone allowed `sudo deploy` for one app
 * must not be able to run other people's requests.
 */
import { text } from 'node:stream/consumers';
import { actAs, caller } from '../caller.js';
import { loadTarget } from '../config/load.js';
import { UsageError } from '../errors.js';
import { carryRequest } from '../feed/index.js';
import { type DeployRequest, requestSchema } from '../feed/requests.js';
import { verifyAllowed } from '../flows/guard.js';
import { DEFAULT_SERVE_CONFIG, USER_NAME, loadServeConfig } from '../serve/config.js';
import { type GlobalOptions, locations } from './context.js';

export interface WorkerCliOptions {
  config?: string;
  child?: boolean;
}

/** How long a request waits for its app-env's lock: it queues (and coalesces) like `sudo deploy --wait`. */
const REQUEST_WAIT = '30m';

function requireRealRoot(): void {
  if (process.getuid?.() !== 0 || caller().elevated) {
    throw new UsageError('deploy worker runs as root itself (examples/dashboard/slipway-worker.service), not through sudo or as another user');
  }
}

export async function workerCommand(options: WorkerCliOptions, globals: GlobalOptions): Promise<void> {
  requireRealRoot();
  if (options.child) return runRequest(globals);
  const where = locations(globals);
  const config = loadServeConfig(options.config ?? DEFAULT_SERVE_CONFIG);
  const { Worker } = await import('../worker/index.js');
  const worker = new Worker({ root: where.root, appsDir: where.appsDir, admins: config.admins });
  await worker.prepare();
  worker.run();
  process.stderr.write(`worker: taking the dashboard's requests from ${where.root}/.spool\n`);
  await new Promise<void>((resolve) => {
    const stop = () => void worker.stop().then(() => resolve());
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

/**
 * One request, in a process of its own: checked again, then run as the person it is for.
 * With allowGroups the person must be in one (as under sudo); an env that names none may be
 * deployed from the dashboard by its admins only, as only they may see it there.
 */
async function runRequest(globals: GlobalOptions): Promise<void> {
  const input = JSON.parse(await text(process.stdin)) as { request: unknown; admins: unknown };
  const request: DeployRequest = requestSchema.parse(input.request);
  const admins = Array.isArray(input.admins) ? input.admins.filter((a): a is string => typeof a === 'string' && USER_NAME.test(a)) : [];
  const { person, target } = request;
  actAs({ user: person, label: `${person} (${request.via === 'webhook' ? 'webhook' : 'dashboard'})`, elevated: true });
  carryRequest(request.id);
  await loadTarget(target, {
    ...locations(globals),
    gate: async (groups) => {
      if (groups?.length) return verifyAllowed(target, groups, person);
      if (!admins.includes(person)) throw new UsageError(`${person} may not deploy ${target} from the dashboard: its env names no allowGroups, so only the dashboard's admins may; nothing was done`);
    },
  });
  const run = { wait: REQUEST_WAIT };
  switch (request.action) {
    case 'deploy': {
      const { deployCommand } = await import('./deploy.js');
      return deployCommand(target, { ...run, ...(request.revision ? { revision: request.revision } : {}) }, globals);
    }
    case 'rollback': {
      const { rollbackCommand } = await import('./rollback.js');
      return rollbackCommand(target, { ...run, ...(request.to ? { to: request.to } : {}) }, globals);
    }
    case 'sync': {
      const { syncCommand } = await import('./sync.js');
      return syncCommand(target, run, globals);
    }
  }
}
