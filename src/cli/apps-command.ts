/** `deploy apps`: every app and env, from the app files and the stores (see inspect/apps.ts). */
import { requireTrusted, requireTrustedTree } from '../config/trust.js';
import { ConfigError } from '../errors.js';
import { collectApps, formatApps } from '../inspect/apps.js';
import { packageRoot } from '../package-root.js';
import { type GlobalOptions, locations } from './context.js';

export async function appsCommand(options: { json?: boolean }, globals: GlobalOptions): Promise<void> {
  const { appsDir, root, elevated } = locations(globals);
  if (elevated) {
    requireTrusted(packageRoot(), "Slipway's own directory");
    requireTrustedTree(appsDir, 'the apps directory');
    requireTrusted(root, 'the admin root');
  }
  const rows = await collectApps(appsDir, root, elevated);
  if (options.json) process.stdout.write(`${JSON.stringify({ v: 1, apps: rows })}\n`);
  else if (!rows.length) process.stdout.write(`no apps in ${appsDir}\n`);
  else for (const line of formatApps(rows)) process.stdout.write(`${line}\n`);
  const broken = rows.filter((r) => r.error);
  if (broken.length) throw new ConfigError(broken.map((r) => `${r.file} does not load (deploy check ${r.app}-<env> says why)`));
}
