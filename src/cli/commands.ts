/**
 * The commands of `deploy`, one registration each: its arguments, options and help.
 * Each command's code is loaded only when it runs (start-up time).
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { ExitCode } from '../errors.js';
import type { GlobalOptions } from './context.js';
import { checkDeployArguments } from './typo.js';

/** `deploy <target>` (the command `ship`, the default): update, release and ship. */
export function registerDeploy(program: Command): void {
  fleetOptions(program
    .command('ship <target>', { isDefault: true }))
    .summary('update, release and deploy <app>-<env> (the default command)')
    .description('Update the source checkout, run admin tasks, commit a release to the store and switch every host to it.\n<target> is <app>-<env>, e.g. caseconductor-prod.')
    .allowExcessArguments()
    .option('-r, --revision <rev>', 'deploy this exact commit instead of the branch head')
    .option('-f, --force', 'discard local modifications in the source checkout')
    .option('--hosts <names>', 'deploy only to these hosts (comma-separated)', parseHostList)
    .option('--exclude-hosts <names>', 'leave these hosts out (comma-separated)', parseHostList)
    .option('--no-auto-revert', 'when the rollout fails, leave the fleet as it is instead of reverting it')
    .option('-n, --dry-run', 'print the rollout plan and change nothing (same as deploy plan)')
    .option('--allow-off-branch', "deploy a --revision that is not on the app's branch (refused otherwise)")
    .option('--build <text>', 'the CI build to record in the release (default: from JOB_NAME, BUILD_NUMBER, BUILD_URL)')
    .addHelpText('after', `
Examples:
  sudo deploy caseconductor-prod
  sudo deploy caseconductor-prod --wait 5m
  sudo deploy caseconductor-stage --revision 4f2a9c1e
  deploy ship caseconductor-dev --parallel 5
  sudo deploy caseconductor-prod --hosts web1,web2
  deploy caseconductor-stage --revision "$GIT_COMMIT" --json --junit slipway-junit.xml > events.jsonl`)
    .action(async (target: string, opts, cmd: Command) => {
      checkDeployArguments(program, cmd.args);
      const { deployCommand } = await import('./deploy.js');
      await deployCommand(target, opts, cmd.optsWithGlobals<GlobalOptions>());
    });
}

/** `deploy plan`: the rollout a deploy would run. */
export function registerPlan(program: Command): void {
  program
    .command('plan <target>')
    .summary('print the rollout a deploy would run; change nothing')
    .description('Print the rollout a deploy of <app>-<env> would run (phases × hosts × steps), the release and the commits it adds. Changes nothing.')
    .option('-r, --revision <rev>', 'plan for this exact commit instead of the branch head')
    .option('--hosts <names>', 'only these hosts (comma-separated)', parseHostList)
    .option('--exclude-hosts <names>', 'leave these hosts out (comma-separated)', parseHostList)
    .option('--no-auto-revert', 'plan without the automatic revert')
    .option('--json', 'print one JSON document on stdout instead (schema: docs/json-read.md)')
    .addHelpText('after', `
Examples:
  deploy plan caseconductor-prod
  deploy plan caseconductor-prod --json | jq -r '.phases[].hosts[] | select(.error) | .host'`)
    .action(async (target: string, opts, cmd: Command) => {
      const { planCommand } = await import('./plan.js');
      await planCommand(target, opts, cmd.optsWithGlobals<GlobalOptions>());
    });
}

/** `deploy hosts`: the env's hosts, resolved. */
export function registerHosts(program: Command): void {
  program
    .command('hosts <target>')
    .summary('list the hosts a run would use, with their roles and where each was named')
    .description('List the hosts of <app>-<env> as a run resolves them: from the app file, or from an Ansible inventory file or command and its pattern; with each host\'s address, roles and datacenter, and the file and line that named it. Touches no host.')
    .option('--json', 'print one JSON document on stdout instead (schema: docs/json-read.md)')
    .addHelpText('after', `
Examples:
  deploy hosts caseconductor-prod
  deploy hosts caseconductor-prod --json | jq -r '.hosts[] | select(.roles | index("worker")) | .name'`)
    .action(async (target: string, opts: { json?: boolean }, cmd: Command) => {
      const { hostsCommand } = await import('./info.js');
      await hostsCommand(target, opts, cmd.optsWithGlobals<GlobalOptions>());
    });
}

/** `deploy releases`: the store's releases. */
export function registerReleases(program: Command): void {
  program
    .command('releases <target>')
    .summary('list the releases in the store, newest first')
    .description('List the releases in the store of <app>-<env>, newest first.')
    .option('--json', 'print one JSON document on stdout instead (schema: docs/json-read.md)')
    .addHelpText('after', `
Examples:
  deploy releases caseconductor-prod
  deploy releases caseconductor-prod --json | jq -r '.live'`)
    .action(async (target: string, opts: { json?: boolean }, cmd: Command) => {
      const { releasesCommand } = await import('./info.js');
      await releasesCommand(target, opts, cmd.optsWithGlobals<GlobalOptions>());
    });
}

/** `deploy status`: what every host serves. */
export function registerStatus(program: Command): void {
  program
    .command('status <target>')
    .summary('show what every host serves and whether it matches the live release')
    .description('Show the release each host of <app>-<env> serves, whether it is the live one, and whether its files still match it.')
    .option('--json', 'print one JSON document on stdout instead (schema: docs/json-read.md)')
    .addHelpText('after', `
Examples:
  deploy status caseconductor-prod
  deploy status caseconductor-prod --json | jq '.hosts[] | select(.verdict != "in-sync")'`)
    .action(async (target: string, opts: { json?: boolean }, cmd: Command) => {
      const { statusCommand } = await import('./info.js');
      await statusCommand(target, opts, cmd.optsWithGlobals<GlobalOptions>());
    });
}

/** `deploy rollback`: an earlier release live again. */
export function registerRollback(program: Command): void {
  fleetOptions(program
    .command('rollback <target>'))
    .summary('make an earlier release live again (default: the previous one)')
    .description('Make an earlier release of <app>-<env> live again: by default the one live before the current one.\nNo rebuild, no admin tasks; hosts that pruned the release get its exact tree from the store.')
    .option('--to <release>', 'roll back to this release: an id (r42), a commit or a tag of the store')
    .option('-f, --force', 'roll back even across changes to the migration paths')
    .addHelpText('after', `
Examples:
  sudo deploy rollback caseconductor-prod
  sudo deploy rollback caseconductor-prod --to r41`)
    .action(async (target: string, opts, cmd: Command) => {
      const { rollbackCommand } = await import('./rollback.js');
      await rollbackCommand(target, opts, cmd.optsWithGlobals<GlobalOptions>());
    });
}

/** `deploy sync`: every host to the live release. */
export function registerSync(program: Command): void {
  fleetOptions(program
    .command('sync <target>'))
    .summary('bring every host to the live release, repairing hand-changed ones')
    .description('Bring every host of <app>-<env> to the live release without making a new one: hosts on another release or on none get it, hosts whose files were changed by hand get a fresh copy.')
    .addHelpText('after', `
Example:
  sudo deploy sync caseconductor-prod`)
    .action(async (target: string, opts, cmd: Command) => {
      const { syncCommand } = await import('./sync.js');
      await syncCommand(target, opts, cmd.optsWithGlobals<GlobalOptions>());
    });
}

/** `deploy log`: the history of runs. */
export function registerLog(program: Command): void {
  program
    .command('log <target>')
    .summary('list the deploys, rollbacks and syncs, newest first')
    .description('List the deploys, rollbacks and syncs of <app>-<env>, newest first, with who, when, the result and the hosts.')
    .option('-n, --limit <n>', 'show only the newest <n> events', parsePositive)
    .option('--json', 'print one JSON document on stdout instead (schema: docs/json-read.md)')
    .addHelpText('after', `
Examples:
  deploy log caseconductor-prod -n 10
  deploy log caseconductor-prod -n 1 --json | jq -r '.events[0].result'`)
    .action(async (target: string, opts, cmd: Command) => {
      const { logCommand } = await import('./history.js');
      await logCommand(target, opts, cmd.optsWithGlobals<GlobalOptions>());
    });
}

/** `deploy diff`: the files changed between two releases. */
export function registerDiff(program: Command): void {
  program
    .command('diff <target> [from] [to]')
    .summary('list the files changed between two releases')
    .description('List the files that differ between two releases (default: the live one against the release live before it; with one release given, that one against the live one).\nPrivate files are marked; their contents are never shown.')
    .option('--patch', 'also show the changes to the non-private files')
    .option('--json', 'print one JSON document on stdout instead (schema: docs/json-read.md)')
    .addHelpText('after', `
Examples:
  deploy diff caseconductor-prod
  deploy diff caseconductor-prod r40 r42 --patch
  deploy diff caseconductor-prod --json | jq -r '.files[].path'`)
    .action(async (target: string, from: string | undefined, to: string | undefined, opts, cmd: Command) => {
      const { diffCommand } = await import('./history.js');
      await diffCommand(target, from, to, opts, cmd.optsWithGlobals<GlobalOptions>());
    });
}

/** `deploy unlock`: remove the lock of a run gone for good. */
export function registerUnlock(program: Command): void {
  program
    .command('unlock <target>')
    .summary('remove the lock of a run that is gone for good')
    .description('Remove the lock of <app>-<env> left by a run that is gone for good (e.g. its host crashed). Recorded in the lock log.')
    .option('--force', 'required: confirms that no run of <app>-<env> is still going')
    .addHelpText('after', `
Example:
  sudo deploy unlock caseconductor-prod --force`)
    .action(async (target: string, opts: { force?: boolean }, cmd: Command) => {
      const { unlockCommand } = await import('./unlock.js');
      await unlockCommand(target, opts, cmd.optsWithGlobals<GlobalOptions>());
    });
}

/** `deploy serve`: the dashboard. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .summary('serve the dashboard: every app-env, its releases, history and runs, live')
    .description('Serve the dashboard on 127.0.0.1:8430: every app-env you may see, its hosts, releases and history, and each run\'s output as it happens (also runs started with sudo deploy or by Jenkins).\nNever as root: it reads only the feed the CLI writes (<root>/.feed, group slipway-web). Settings: /etc/slipway/serve.json (examples/dashboard/).')
    .option('--config <file>', 'the settings file (default: /etc/slipway/serve.json)')
    .option('--listen <address>', 'address and port to listen on (default: the settings\' listen, 127.0.0.1:8430)')
    .option('--new-token <user>', 'print a new API token for <user> and the line to add to the settings, then exit')
    .option('--publish', 'as root: write the feed\'s summary of every app-env with releases (runs do it themselves), then exit')
    .addHelpText('after', `
Examples:
  sudo -u slipway-web deploy serve
  sudo deploy serve --publish
  deploy serve --new-token jenkins
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8430/api/targets`)
    .action(async (opts, cmd: Command) => {
      const { serveCommand } = await import('./serve.js');
      await serveCommand(opts, cmd.optsWithGlobals<GlobalOptions>());
    });
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .summary('as root: run the deploys, rollbacks and syncs people ask for on the dashboard')
    .description('Take the requests deploy serve leaves in <root>/.spool and run each as the person who asked, checked like sudo deploy (allowGroups; where an env names none, the dashboard\'s admins only), under the same lock and queue, recorded as "<person> (dashboard)".\nRuns as root itself, from a systemd unit (examples/dashboard/slipway-worker.service), never through sudo.')
    .option('--config <file>', 'the dashboard\'s settings, for its admins (default: /etc/slipway/serve.json)')
    .addOption(new Option('--child', 'run the one request given on stdin (the worker starts itself so; not for people)').hideHelp())
    .action(async (opts, cmd: Command) => {
      const { workerCommand } = await import('./worker.js');
      await workerCommand(opts, cmd.optsWithGlobals<GlobalOptions>());
    });
}

/** The options every command that changes a fleet takes (see fleet-run.ts). */
function fleetOptions(cmd: Command): Command {
  return cmd
    .option('-p, --parallel <n>', 'hosts worked on at once', parsePositive)
    .option('-w, --wait <duration>', 'if another run holds the lock, wait this long for it (30s, 5m, 1h)')
    .option('--json', 'JSON lines on stdout, one per event (human lines stay on stderr)')
    .option('--junit <file>', 'write a JUnit XML report: one test per host, phase and step');
}

function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError(`expected a whole number from 1 to 1000, got ${JSON.stringify(value)}`);
  return n;
}

/** `a,b` → ['a', 'b']; repeated options add up. Names are checked against the env later. */
function parseHostList(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}

/** `deploy completion bash|zsh` (hidden): print the completion script, for `source <(deploy completion bash)`. */
export function registerCompletion(program: Command): void {
  program
    .command('completion <shell>', { hidden: true })
    .summary('print the bash or zsh completion script')
    .description('Print the completion script for bash or zsh; make install installs both.')
    .action(async (shell: string) => {
      const { SHELLS, completionScript } = await import('./completion-script.js');
      if (!(SHELLS as readonly string[]).includes(shell)) program.error(`error: no completion for ${JSON.stringify(shell)} (shells: ${SHELLS.join(', ')})`, { exitCode: ExitCode.usage });
      process.stdout.write(completionScript(program, shell as 'bash' | 'zsh'));
    });
  program
    .command('__complete <kind> [target]', { hidden: true })
    .summary('the targets or release ids the completion scripts offer')
    .description('Print the targets, or the release ids of a target, one a line, for the completion scripts.')
    .action(async (kind: string, target: string | undefined, _opts, cmd: Command) => {
      const { completeCommand } = await import('./complete.js');
      await completeCommand(kind, target, cmd.optsWithGlobals<GlobalOptions>());
    });
}
