/** Registers `deploy init <app>`; its code (init-command.ts) loads only when it runs. */
import type { Command } from 'commander';
import type { GlobalOptions } from './context.js';

export interface InitOptions {
  repo?: string;
  branch: string;
  env?: string[];
}

export function registerInit(program: Command): void {
  program
    .command('init <app>')
    .summary('write a new app file and its private dirs, then say what to do next')
    .description(
      'Write <apps>/<app>.ts, a commented app file, from the options, and for each env its private dir ' +
        '(<root>/<env>/private/<app>, mode 0700) with an empty .env (0600); then print what to do next.\n' +
        'Never overwrites: an existing app file is refused (exit 2), an existing private dir or .env is left as it is.',
    )
    .requiredOption('--repo <url>', 'the source repository (URL, user@host:path or an absolute path)')
    .option('--branch <name>', 'the branch deploys follow', 'main')
    .option('--env <env>=<hosts>', 'an env and its hosts, comma-separated; repeat for each env', (v: string, prev: string[] = []) => [...prev, v])
    .addHelpText('after', `
Examples:
  sudo deploy init shop --repo https://github.com/example/shop.git --env prod=web1,web2,web3 --env stage=stage1
  deploy init blog --repo git@git.example.com:blog.git --branch release --env prod=10.0.0.5`)
    .action(async (app: string, opts: InitOptions, cmd: Command) => {
      const { initCommand } = await import('./init-command.js');
      await initCommand(app, opts, cmd.optsWithGlobals<GlobalOptions>());
    });
}
