/** `deploy serve`: the dashboard (src/serve), and `--new-token` to let a program in. */
import { UsageError } from '../errors.js';
import { FEED_GROUP, feedDir } from '../feed/index.js';
import { DEFAULT_SERVE_CONFIG, USER_NAME, loadServeConfig, newToken, splitListen } from '../serve/config.js';
import { type GlobalOptions, locations } from './context.js';

export interface ServeOptions {
  config?: string;
  listen?: string;
  newToken?: string;
}

export async function serveCommand(options: ServeOptions, globals: GlobalOptions): Promise<void> {
  if (options.newToken !== undefined) {
    if (!USER_NAME.test(options.newToken)) throw new UsageError(`--new-token ${JSON.stringify(options.newToken)}: not a valid unix user name`);
    const { token, entry } = newToken(options.newToken);
    process.stderr.write(`add this to "tokens" in ${options.config ?? DEFAULT_SERVE_CONFIG}; the token is shown only now:\n  ${JSON.stringify(entry)}\n`);
    process.stdout.write(`${token}\n`);
    return;
  }
  // the process that speaks HTTP holds no privilege: it reads the feed through its group, never a store
  if (process.getuid?.() === 0) {
    throw new UsageError(`deploy serve does not run as root: run it as a user in the ${FEED_GROUP} group, which may read the feed and nothing else (examples/dashboard/slipway-serve.service)`);
  }
  const { root } = locations(globals);
  const config = loadServeConfig(options.config ?? DEFAULT_SERVE_CONFIG);
  const listen = options.listen ?? config.listen;
  if (!/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):\d{1,5}$/.test(listen)) throw new UsageError(`--listen ${JSON.stringify(listen)}: an address and port such as 127.0.0.1:8430`);
  const { host, port } = splitListen(listen);
  const { buildServer } = await import('../serve/server.js');
  const app = await buildServer({ config, root });
  const address = await app.listen({ host, port });
  process.stderr.write(`dashboard on ${address}, showing ${feedDir(root)}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => void app.close().then(() => resolve());
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
