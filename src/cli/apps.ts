/** Registers `deploy apps`; its code (apps-command.ts) loads only when it runs. */
import type { Command } from 'commander';
import type { GlobalOptions } from './context.js';

export function registerApps(program: Command): void {
  program
    .command('apps')
    .summary('list every app and env: hosts, branch, live release, last run')
    .description(
      'List every app and env in the apps directory: how many hosts, the branch, how many releases, the live release and the ' +
        'last run (when, what, result, who). Reads the app files and the stores on this node only; no host is contacted.\n' +
        'Exit 2 when an app file does not load (it is listed with why).',
    )
    .option('--json', 'print one JSON document on stdout instead of the table (docs/json-read.md)')
    .addHelpText('after', `
Examples:
  sudo deploy apps
  deploy apps --apps /etc/slipway/apps --root /data
  sudo deploy apps --json | jq -r '.apps[].envs[] | select(.lastRun.result != "ok") | .target'`)
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { appsCommand } = await import('./apps-command.js');
      await appsCommand(opts, cmd.optsWithGlobals<GlobalOptions>());
    });
}
