/**
 * The command line: `deploy <app>-<env>` and its subcommands (registered in
 * commands.ts). Every error ends here and becomes a message and an exit code.
 */
import { Command, CommanderError, Option } from 'commander';
import { ExitCode, SlipwayError } from '../errors.js';
import { packageVersion } from '../package-root.js';
import { redact } from '../report/redact.js';
import { permissionProblem } from './access.js';
import { registerApps } from './apps.js';
import { registerCheck } from './check.js';
import { registerCompletion, registerDeploy, registerDiff, registerHosts, registerLog, registerPlan, registerReleases, registerRollback, registerStatus, registerServe, registerSync, registerUnlock, registerWorker } from './commands.js';
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
  deploy apps                                    every app and env, its live release and last run
  sudo deploy check caseconductor-prod --connect is everything in place, here and on every host?
  sudo deploy init shop --repo https://git.example.com/shop.git --env prod=web1,web2
                                                 start a new app: app file and private dirs
  source <(deploy completion bash)               complete commands, options, targets and release ids in
                                                 this shell (zsh too; make install sets up both, and man deploy)

Environment:
  SLIPWAY_APPS   directory of app files (default: /etc/slipway/apps for an installed
                 Slipway, the apps/ of a clone)
  SLIPWAY_ROOT   admin node root holding <env>/{src,www,private}/<app> (default: /data)
  Under sudo, these and --apps/--root are used only for paths root owns and nobody
  else can write (every directory up to /); the app file is read as nobody first.
  NO_COLOR       when set and not empty: no colour (as --no-color, which wins over FORCE_COLOR)
  FORCE_COLOR    0 or false: no colour; any other value: colour even on TERM=dumb
                 (colour is only ever in the terminal view; lines and JSON have none)
  CI             when set (and not 0/false), or without a terminal: no spinners, one line per event
                 (a long transfer: a progress line per host every 5 s)
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
    .option('--no-color', 'no colour in the terminal view (as NO_COLOR)')
    .showHelpAfterError('(run deploy --help for usage)')
    .addHelpText('after', EXAMPLES)
    .exitOverride();
  const commands = [registerDeploy, registerPlan, registerReleases, registerStatus, registerHosts, registerRollback, registerSync, registerLog, registerDiff, registerUnlock, registerApps, registerCheck, registerInit, registerServe, registerWorker, registerCompletion];
  for (const register of commands) register(program);
  return program;
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
