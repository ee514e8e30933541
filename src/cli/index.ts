/**
 * The command line: `deploy <app>-<env>` and its subcommands. Commands load
 * their code lazily; every error ends here and becomes a message and an exit code.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ExitCode, SlipwayError } from '../errors.js';
import { redact } from '../report/redact.js';
import type { GlobalOptions } from './context.js';

const EXAMPLES = `
Examples:
  sudo deploy caseconductor-prod                 update, release and ship the branch head
  sudo deploy caseconductor-prod --revision 4f2a9c1
                                                 ship exactly the commit CI tested
  deploy releases caseconductor-prod             list releases, newest first
  deploy status caseconductor-prod               what every host serves now

Environment:
  SLIPWAY_APPS   directory of app files (default: the apps/ shipped with Slipway)
  SLIPWAY_ROOT   admin node root holding <env>/{src,www,private}/<app> (default: /data)

Exit codes: 0 ok, 1 failed, 2 usage or config error, 3 lock held,
            4 health check failed and fleet reverted, 5 partial (some hosts not switched),
            130 interrupted (SIGINT/SIGTERM; each host's state is listed)`;

export function buildProgram(): Command {
  const program = new Command('deploy')
    .description('Ship a web application from this admin node to its fleet: update the source, commit a release, switch every host.')
    .addOption(new Option('--apps <dir>', 'directory of app files').env('SLIPWAY_APPS'))
    .addOption(new Option('--root <dir>', 'admin node root').env('SLIPWAY_ROOT'))
    .option('-v, --verbose', 'show stack traces on errors')
    .showHelpAfterError('(run deploy --help for usage)')
    .addHelpText('after', EXAMPLES)
    .exitOverride();

  program
    .command('ship <target>', { isDefault: true })
    .summary('update, release and deploy <app>-<env> (the default command)')
    .description('Update the source checkout, run admin tasks, commit a release to the store and switch every host to it.\n<target> is <app>-<env>, e.g. caseconductor-prod.')
    .option('-r, --revision <rev>', 'deploy this exact commit instead of the branch head')
    .option('-f, --force', 'discard local modifications in the source checkout')
    .option('-p, --parallel <n>', 'hosts worked on at once', parsePositive)
    .option('-w, --wait <duration>', 'if another run holds the lock, wait this long for it (30s, 5m, 1h)')
    .addHelpText('after', `
Examples:
  sudo deploy caseconductor-prod
  sudo deploy caseconductor-prod --wait 5m
  sudo deploy caseconductor-stage --revision 4f2a9c1e
  deploy ship caseconductor-dev --parallel 5`)
    .action(async (target: string, opts, cmd: Command) => {
      const { shipCommand } = await import('./ship.js');
      await shipCommand(target, opts, cmd.optsWithGlobals<GlobalOptions>());
    });

  program
    .command('releases <target>')
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
    .description('Show the release each host of <app>-<env> serves, and whether it is the newest.')
    .addHelpText('after', `
Example:
  deploy status caseconductor-prod`)
    .action(async (target: string, _opts, cmd: Command) => {
      const { statusCommand } = await import('./info.js');
      await statusCommand(target, cmd.optsWithGlobals<GlobalOptions>());
    });

  program
    .command('unlock <target>')
    .description('Remove the lock of <app>-<env> left by a run that is gone for good (e.g. its host crashed). Recorded in the lock log.')
    .option('--force', 'required: confirms no run of <app>-<env> is still going')
    .addHelpText('after', `
Example:
  sudo deploy unlock caseconductor-prod --force`)
    .action(async (target: string, opts: { force?: boolean }, cmd: Command) => {
      const { unlockCommand } = await import('./unlock.js');
      await unlockCommand(target, opts, cmd.optsWithGlobals<GlobalOptions>());
    });

  return program;
}

function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError(`expected a whole number from 1 to 1000, got ${JSON.stringify(value)}`);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander printed its own message (or the help)
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    const verbose = program.opts<GlobalOptions>().verbose;
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
