/** `deploy serve`: the dashboard (src/serve), and `--new-token` to let a program in. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { listApps, loadApp, loadTarget } from '../config/load.js';
import { UsageError, errorMessage } from '../errors.js';
import { FEED_GROUP, feedDir, publishSummary } from '../feed/index.js';
import { verifyAllowed } from '../flows/guard.js';
import { requireAccess } from './access.js';
import { DEFAULT_SERVE_CONFIG, LISTEN, USER_NAME, loadServeConfig, loadWebhookSecrets, newToken, splitListen } from '../serve/config.js';
import { type GlobalOptions, locations } from './context.js';

export interface ServeOptions {
  config?: string;
  listen?: string;
  newToken?: string;
  publish?: boolean;
}

/**
 * `sudo deploy serve --publish`: write the feed's summary of every app-env with a store, so
 * the dashboard shows app-envs that have not run since the feed began. Targets the caller may
 * not deploy (allowGroups) are skipped, as every other command would refuse them.
 */
async function publishAll(globals: GlobalOptions): Promise<void> {
  const where = locations(globals);
  for (const app of await listApps(where.appsDir)) {
    let envs: string[];
    try {
      envs = Object.keys((await loadApp(where.appsDir, app)).config.envs);
    } catch (err) {
      process.stderr.write(`${app}: skipped: ${errorMessage(err).split('\n')[0]}\n`);
      continue;
    }
    for (const env of envs) {
      const target = `${app}-${env}`;
      try {
        const appEnv = await loadTarget(target, { ...where, gate: (groups) => verifyAllowed(target, groups) });
        if (!existsSync(join(appEnv.paths.www, '.git'))) {
          process.stdout.write(`${target}: no releases yet\n`);
          continue;
        }
        requireAccess([{ path: appEnv.paths.www, need: 'read', git: true }]);
        await publishSummary(appEnv);
        process.stdout.write(`${target}: published\n`);
      } catch (err) {
        process.stderr.write(`${target}: skipped: ${errorMessage(err).split('\n')[0]}\n`);
      }
    }
  }
}

export async function serveCommand(options: ServeOptions, globals: GlobalOptions): Promise<void> {
  if (options.newToken !== undefined) {
    if (!USER_NAME.test(options.newToken)) throw new UsageError(`--new-token ${JSON.stringify(options.newToken)}: not a valid unix user name`);
    const { token, entry } = newToken(options.newToken);
    process.stderr.write(`add this to "tokens" in ${options.config ?? DEFAULT_SERVE_CONFIG}; the token is shown only now:\n  ${JSON.stringify(entry)}\n`);
    process.stdout.write(`${token}\n`);
    return;
  }
  if (options.publish) return publishAll(globals);
  // the process that speaks HTTP holds no privilege: it reads the feed through its group, never a store
  if (process.getuid?.() === 0) {
    throw new UsageError(`deploy serve does not run as root: run it as a user in the ${FEED_GROUP} group, which may read the feed and nothing else (examples/dashboard/slipway-serve.service)`);
  }
  const { root } = locations(globals);
  const config = loadServeConfig(options.config ?? DEFAULT_SERVE_CONFIG);
  const listen = options.listen ?? config.listen;
  if (!LISTEN.test(listen)) throw new UsageError(`--listen ${JSON.stringify(listen)}: an address and port such as 127.0.0.1:8430`);
  const { host, port } = splitListen(listen);
  const { buildServer } = await import('../serve/server.js');
  const app = await buildServer({ config, root, webhooks: loadWebhookSecrets(config) });
  const address = await app.listen({ host, port });
  process.stderr.write(`dashboard on ${address}, showing ${feedDir(root)}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => void app.close().then(() => resolve());
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
