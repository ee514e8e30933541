/**
 * The command line: `deploy <app>-<env>` and its subcommands. Commands load
 * their code lazily; every error ends here and becomes a message and an exit code.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { splitTarget } from '../config/names.js';
import { ExitCode, SlipwayError } from '../errors.js';
import { packageVersion } from '../package-root.js';
import { redact } from '../report/redact.js';
import { permissionProblem } from './access.js';
import { registerApps } from './apps.js';
import { registerCheck } from './check.js';
import type { GlobalOptions } from './context.js';
import { registerInit } from './init.js';

const EXAMPLES = `
Examples:
  sudo deploy caseconductor-prod                 update, release and ship the branch head
  sudo deploy caseconductor-prod --revision 4f2a9c1
                                                 ship exactly the commit CI tested
  deploy plan caseconductor-prod                 print the rollout a deploy would run; change nothing
  deploy releases caseconductor-prod             list releases, newest first
  deploy status caseconductor-prod               what every host serves now
  sudo deploy rollback caseconductor-prod        back to the release live before this one
  deploy log caseconductor-prod                  deploys, rollbacks and syncs, newest first

Environment:
  SLIPWAY_APPS   directory of app files (default: /etc/slipway/apps for an installed
                 Slipway, the apps/ of a clone)
  SLIPWAY_ROOT   admin node root holding <env>/{src,www,private}/<app> (default: /data)
  Under sudo, these and --apps/--root are used only for paths root owns and nobody
  else can write (every directory up to /); the app file is read as nobody first.
  CI             when set (and not 0/false), or without a terminal: no spinners, one line per event
  JOB_NAME, BUILD_NUMBER, BUILD_URL   Jenkins' build, recorded in the release

Exit codes: 0 ok, 1 failed, 2 usage or config error, 3 lock held,
            4 health check failed and fleet reverted, 5 partial (some hosts not switched),
            6 superseded (with --wait: a newer queued deploy ran instead),
            130 interrupted (SIGINT/SIGTERM; each host's state is listed)`;

export function buildProgram(): Command {
  const program = new Command('deploy')
    .version(packageVersion(), '-V, --version', 'print the version of Slipway')
    .description('Ship a web application from this admin node to its fleet: update the source, commit a release, switch every host.')
    .addOption(new Option('--apps <dir>', 'directory of app files').env('SLIPWAY_APPS'))
    .addOption(new Option('--root <dir>', 'admin node root').env('SLIPWAY_ROOT'))
    .option('-v, --verbose', 'show stack traces on errors')
    .showHelpAfterError('(run deploy --help for usage)')
    .addHelpText('after', EXAMPLES)
    .exitOverride();

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
      checkShipArguments(program, cmd.args);
      const { shipCommand } = await import('./ship.js');
      await shipCommand(target, opts, cmd.optsWithGlobals<GlobalOptions>());
    });

  program
    .command('plan <target>')
    .summary('print the rollout a deploy would run; change nothing')
    .description('Print the rollout a deploy of <app>-<env> would run (phases × hosts × steps), the release and the commits it adds. Changes nothing.')
    .option('-r, --revision <rev>', 'plan for this exact commit instead of the branch head')
    .option('--hosts <names>', 'only these hosts (comma-separated)', parseHostList)
    .option('--exclude-hosts <names>', 'leave these hosts out (comma-separated)', parseHostList)
    .option('--no-auto-revert', 'plan without the automatic revert')
    .addHelpText('after', `
Example:
  deploy plan caseconductor-prod`)
    .action(async (target: string, opts, cmd: Command) => {
      const { planCommand } = await import('./plan.js');
      await planCommand(target, opts, cmd.optsWithGlobals<GlobalOptions>());
    });

  program
    .command('releases <target>')
    .summary('list the releases in the store, newest first')
    .description('List the releases in the store of <app>-<env>, newest first.')
    .addHelpText('after', `
Example:
  deploy releases caseconductor-prod`)
    .action(async (target: string, _opts, cmd: Command) => {
      const { releasesCommand } = await import('./info.js');
      await releasesCommand(target, cmd.optsWithGlobals<GlobalOptions>());
    });

  program
    .command('status <target>')
    .summary('show what every host serves and whether it matches the live release')
    .description('Show the release each host of <app>-<env> serves, whether it is the live one, and whether its files still match it.')
    .addHelpText('after', `
Example:
  deploy status caseconductor-prod`)
    .action(async (target: string, _opts, cmd: Command) => {
      const { statusCommand } = await import('./info.js');
      await statusCommand(target, cmd.optsWithGlobals<GlobalOptions>());
    });

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

  fleetOptions(program
    .command('sync <target>'))
    .summary('bring every host to the live release, repairing hand-changed ones')
    .description('Bring every host of <app>-<env> to the live release without making a new one: hosts on another release or on none get it, hosts whose files were changed by hand get a fresh copy.')
    .addHelpText('after', `
Example:
  sudo deploy sync caseconductor-prod`)
    .action(async (target: string, opts, cmd: Command) => {
      const { syncCommand } = await import('./rollback.js');
      await syncCommand(target, opts, cmd.optsWithGlobals<GlobalOptions>());
    });

  program
    .command('log <target>')
    .summary('list the deploys, rollbacks and syncs, newest first')
    .description('List the deploys, rollbacks and syncs of <app>-<env>, newest first, with who, when, the result and the hosts.')
    .option('-n, --limit <n>', 'show only the newest <n> events', parsePositive)
    .addHelpText('after', `
Example:
  deploy log caseconductor-prod -n 10`)
    .action(async (target: string, opts, cmd: Command) => {
      const { logCommand } = await import('./history.js');
      await logCommand(target, opts, cmd.optsWithGlobals<GlobalOptions>());
    });

  program
    .command('diff <target> [from] [to]')
    .summary('list the files changed between two releases')
    .description('List the files that differ between two releases (default: the live one against the release live before it; with one release given, that one against the live one).\nPrivate files are marked; their contents are never shown.')
    .option('--patch', 'also show the changes to the non-private files')
    .addHelpText('after', `
Examples:
  deploy diff caseconductor-prod
  deploy diff caseconductor-prod r40 r42 --patch`)
    .action(async (target: string, from: string | undefined, to: string | undefined, opts, cmd: Command) => {
      const { diffCommand } = await import('./history.js');
      await diffCommand(target, from, to, opts, cmd.optsWithGlobals<GlobalOptions>());
    });

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

  registerApps(program);
  registerCheck(program);
  registerInit(program);

  return program;
}

/** The options every command that changes a fleet takes (see fleet-run.ts). */
function fleetOptions(cmd: Command): Command {
  return cmd
    .option('-p, --parallel <n>', 'hosts worked on at once', parsePositive)
    .option('-w, --wait <duration>', 'if another run holds the lock, wait this long for it (30s, 5m, 1h)')
    .option('--json', 'JSON lines on stdout, one per event (human lines stay on stderr)')
    .option('--junit <file>', 'write a JUnit XML report: one test per host, phase and step');
}

/**
 * `deploy <target>` is the default command, so a mistyped command (`deploy statu x-prod`)
 * reaches it as a target: name the command meant instead of commander's "too many arguments".
 */
function checkShipArguments(program: Command, args: readonly string[]): void {
  const [first = '', ...rest] = args;
  if (!splitTarget(first)) {
    const meant = similarCommand(first, program.commands.map((c) => c.name()));
    if (meant) program.error(`error: unknown command '${first}'; did you mean '${meant}'?`, { exitCode: ExitCode.usage });
    if (rest.length) program.error(`error: unknown command '${first}'`, { exitCode: ExitCode.usage });
  }
  if (rest.length) program.error(`error: too many arguments after ${first}: ${rest.map((a) => `'${a}'`).join(' ')}`, { exitCode: ExitCode.usage });
}

/** The command `typed` is probably a typo of: within two edits (fewer than half its letters), or the only one it begins. */
export function similarCommand(typed: string, names: readonly string[]): string | undefined {
  const word = typed.toLowerCase();
  if (!/^[a-z]{2,20}$/.test(word)) return undefined;
  let best: { name: string; d: number } | undefined;
  for (const name of names) {
    const d = editDistance(word, name);
    if (d <= 2 && d * 2 < name.length && (!best || d < best.d)) best = { name, d };
  }
  if (best) return best.name;
  const starting = names.filter((n) => word.length >= 3 && n.startsWith(word));
  return starting.length === 1 ? starting[0] : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** Fewer columns than this is a terminal that does not know its size (`stty cols 0`, some serial consoles). */
const MIN_COLUMNS = 20;
const FALLBACK_COLUMNS = 80;

/**
 * A terminal that reports 0 columns made the live view (and anything else that wraps to the
 * terminal) print one character per line: take such a width to be 80, also after a resize.
 */
export function clampColumns(stream: { isTTY?: boolean; columns?: number; on?: (event: 'resize', listener: () => void) => unknown }): void {
  if (!stream.isTTY) return;
  const clamp = () => {
    if (!(typeof stream.columns === 'number' && stream.columns >= MIN_COLUMNS)) stream.columns = FALLBACK_COLUMNS;
  };
  clamp();
  stream.on?.('resize', clamp);
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

export async function main(argv: string[]): Promise<number> {
  clampColumns(process.stdout);
  clampColumns(process.stderr);
  const program = buildProgram();
  if (argv.length <= 2) {
    process.stderr.write(program.helpInformation());
    return ExitCode.usage;
  }
  try {
    await program.parseAsync(argv);
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander printed its own message (or the help)
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    const verbose = program.opts<GlobalOptions>().verbose;
    const denied = permissionProblem(err);
    if (denied) {
      process.stderr.write(`deploy: ${redact(denied)}\n`);
      if (verbose && err instanceof Error && err.stack) process.stderr.write(`${redact(err.stack)}\n`);
      return ExitCode.usage;
    }
    if (err instanceof SlipwayError) {
      process.stderr.write(`deploy: ${redact(err.message)}\n`);
      if (verbose && err.stack) process.stderr.write(`${redact(err.stack)}\n`);
      return err.exitCode;
    }
    process.stderr.write(`deploy: ${redact(err instanceof Error ? err.message : String(err))}\n`);
    if (verbose && err instanceof Error && err.stack) process.stderr.write(`${redact(err.stack)}\n`);
    return ExitCode.failed;
  }
}
