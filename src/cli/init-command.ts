/** `deploy init <app>`: a new app file and its private dirs (see inspect/init.ts). */
import { displayPath } from '../config/load.js';
import { requireTrusted } from '../config/trust.js';
import { type InitAnswers, nextSteps, parseEnvOption, writeInit } from '../inspect/init.js';
import type { InitOptions } from './init.js';
import { type GlobalOptions, locations } from './context.js';

export async function initCommand(app: string, options: InitOptions, globals: GlobalOptions): Promise<void> {
  const { appsDir, root, elevated } = locations(globals);
  if (elevated) {
    // root writes there: what it writes must not be replaceable by anyone else
    requireTrusted(appsDir, 'the apps directory');
    requireTrusted(root, 'the admin root');
  }
  const answers: InitAnswers = { app, repo: options.repo ?? '', branch: options.branch, envs: (options.env ?? []).map(parseEnvOption) };
  const result = await writeInit(answers, appsDir, root);
  for (const line of nextSteps(answers, result, displayPath(result.file))) process.stdout.write(`${line}\n`);
}
