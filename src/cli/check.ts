/** Registers `deploy check <app>-<env>`; its code (check-command.ts) loads only when it runs. */
import type { Command } from 'commander';
import type { GlobalOptions } from './context.js';

export interface CheckOptions {
  connect?: boolean;
  json?: boolean;
}

export function registerCheck(program: Command): void {
  program
    .command('check <target>')
    .summary('check an app-env without deploying (with --connect: every host too)')
    .description(
      'Check everything about <app>-<env> that can be known without deploying: the app file loads and validates, the private dir ' +
        'is there, owned by whoever deploys and closed to others, the files private.require names are there, known_hosts has a key ' +
        'for every host, the SSH key is readable by nobody else. With --connect, one connection per host checks the login, that ' +
        'remote.path can be written, tar and rsync, free disk against the live release, and the clock.\n' +
        'Every problem names the file or host and what to do. Exit 0 only when everything passes, 1 when something does not.',
    )
    .option('--connect', 'also connect to every host and check it')
    .option('--json', 'print one JSON document on stdout instead of text (docs/json-read.md)')
    .addHelpText('after', `
Examples:
  sudo deploy check caseconductor-prod              the admin node's side only; no network
  sudo deploy check caseconductor-prod --connect    and every host: login, path, tools, disk, clock
  deploy check caseconductor-prod --connect --json | jq '.checks[] | select(.status == "fail")'`)
    .action(async (target: string, opts: CheckOptions, cmd: Command) => {
      const { checkCommand } = await import('./check-command.js');
      await checkCommand(target, opts, cmd.optsWithGlobals<GlobalOptions>());
    });
}

