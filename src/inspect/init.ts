/**
 * `deploy init <app>`: a commented app file from the answers given as options, and a
 * private dir per env. The text and the checks are pure; writeInit touches the disk and
 * never replaces anything that exists.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { adminPaths } from '../config/paths.js';
import { checkAppName, checkEnvName, checkHostName, checkRefName, checkRepo } from '../config/names.js';
import { appSchema, formatIssues } from '../config/schema.js';
import { UsageError } from '../errors.js';

export interface InitAnswers {
  app: string;
  repo: string;
  branch: string;
  envs: { env: string; hosts: string[] }[];
}

const said = (value: string) => JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);

/** `prod=web1,web2` → { env: 'prod', hosts: ['web1', 'web2'] }; the names are checked by initProblems. */
export function parseEnvOption(value: string): { env: string; hosts: string[] } {
  const at = value.indexOf('=');
  if (at < 0) return { env: value, hosts: [] };
  return { env: value.slice(0, at), hosts: value.slice(at + 1).split(',').map((h) => h.trim()).filter(Boolean) };
}

/** Every problem with the answers at once, each saying which option; empty when they make a valid app file. */
export function initProblems(a: InitAnswers): string[] {
  const problems: string[] = [];
  const bad = (what: string, value: string, reason: string | undefined) => reason && problems.push(`${what} ${said(value)}: ${reason}`);
  bad('app', a.app, checkAppName(a.app));
  bad('--repo', a.repo, checkRepo(a.repo));
  bad('--branch', a.branch, checkRefName(a.branch));
  if (!a.envs.length) problems.push('at least one --env <env>=<host>[,<host>…] is needed, e.g. --env prod=web1,web2');
  const seen = new Set<string>();
  for (const { env, hosts } of a.envs) {
    bad('--env', env, checkEnvName(env));
    if (seen.has(env)) problems.push(`--env ${said(env)}: given twice`);
    seen.add(env);
    if (!hosts.length) problems.push(`--env ${said(env)}: no hosts (write --env ${env}=web1,web2)`);
    for (const h of hosts) bad(`--env ${said(env)}: host`, h, checkHostName(h));
    if (new Set(hosts).size !== hosts.length) problems.push(`--env ${said(env)}: a host is listed twice`);
  }
  if (problems.length) return problems;
  // the same schema a deploy loads the file with: what init writes always loads
  const parsed = appSchema.safeParse({ repo: a.repo, branch: a.branch, envs: Object.fromEntries(a.envs.map((e) => [e.env, { hosts: e.hosts }])) });
  return parsed.success ? [] : formatIssues(parsed.error.issues);
}

/** The app file. Values are JSON strings (valid TypeScript literals); names were checked, so comments hold no input but the app name. */
export function appFileText(a: InitAnswers): string {
  const envs = a.envs.map((e) => `    ${e.env}: { hosts: [${e.hosts.map((h) => JSON.stringify(h)).join(', ')}] },`).join('\n');
  return `// ${a.app}: written by \`deploy init\`. Every key and its default: README, "Describing an app".
// Check it with: deploy check ${a.app}-${a.envs[0]!.env} --connect
import { defineApp } from 'slipway';

export default defineApp({
  // the source repository, and the branch deploys follow (an env may set its own \`branch\`)
  repo: ${JSON.stringify(a.repo)},
  branch: ${JSON.stringify(a.branch)},

  // admin tasks, run in the checkout before each release, in order; the first that fails stops the deploy
  tasks: [
    // { name: 'compress assets', run: ['python', 'manage.py', 'collectstatic', '--noinput'] },
  ],

  // rsync patterns left out of every release, on top of .git* and .hg*
  exclude: [],

  // private settings live in <root>/<env>/private/${a.app}/ and are overlaid on every release;
  // .env holds variables for the tasks (never shipped). A deploy missing a required file stops.
  // private: { require: ['.env'] },

  // how hosts are reached; the defaults: root, port 22, ~/.ssh/id_ed25519, ~/.ssh/known_hosts
  // ssh: { user: 'deploy', key: '/root/.ssh/deploy_ed25519' },

  // where releases live on every host ({app} and {env} are filled in), and how many each keeps
  remote: { path: '/data/www/{app}', keepReleases: 5 },

  envs: {
${envs}
  },
});
`;
}

export interface InitResult {
  file: string;
  /** Per env: its private dir, and whether init made it and its .env (false: it was there and is left as it is). */
  privateDirs: { env: string; dir: string; created: boolean; envFileCreated: boolean }[];
}

/**
 * Write the app file (refused if it exists: never overwritten) and each env's private dir,
 * 0700 inside a 0700 `<root>/<env>/private`, with an empty .env (0600). What exists is left alone.
 */
export async function writeInit(a: InitAnswers, appsDir: string, root: string): Promise<InitResult> {
  const problems = initProblems(a);
  if (problems.length) throw new UsageError(problems.length === 1 ? problems[0]! : `${problems.length} problems:\n  ${problems.join('\n  ')}`);
  const file = join(appsDir, `${a.app}.ts`);
  if (!existsSync(appsDir)) throw new UsageError(`the apps directory ${appsDir} does not exist (set --apps or SLIPWAY_APPS, or create it)`);
  if (existsSync(file)) throw new UsageError(`${file} exists: deploy init never overwrites an app file (edit it, or remove it first)`);
  // 'wx': created here or not at all, even if another init races this one; readable by all (read as nobody under sudo)
  try {
    await writeFile(file, appFileText(a), { flag: 'wx', mode: 0o644 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${file} exists: deploy init never overwrites an app file`);
    throw err;
  }
  await chmod(file, 0o644);
  const privateDirs: InitResult['privateDirs'] = [];
  for (const { env } of a.envs) {
    const dir = adminPaths(root, env, a.app).private;
    await mkdir(dirname(dirname(dir)), { recursive: true, mode: 0o755 });
    await mkdir(dirname(dir), { recursive: true, mode: 0o700 });
    const created = !existsSync(dir);
    if (created) await mkdir(dir, { mode: 0o700 });
    const envFile = join(dir, '.env');
    let envFileCreated = false;
    if (created || !existsSync(envFile)) {
      await writeFile(envFile, '', { flag: 'wx', mode: 0o600 });
      envFileCreated = true;
    }
    privateDirs.push({ env, dir, created, envFileCreated });
  }
  return { file, privateDirs };
}

/** What to do once init has written its files. */
export function nextSteps(a: InitAnswers, result: InitResult, shownFile: string): string[] {
  const first = `${a.app}-${a.envs[0]!.env}`;
  const hosts = [...new Set(a.envs.flatMap((e) => e.hosts))];
  return [
    `wrote ${shownFile}`,
    ...result.privateDirs.map((p) =>
      p.created ? `created ${p.dir} (0700) with an empty .env (0600)` : `${p.dir} was there: left as it is${p.envFileCreated ? ', added an empty .env (0600)' : ''}`),
    '',
    'Next:',
    `  1. read ${shownFile}: add the admin tasks, and ssh settings unless hosts take root with ~/.ssh/id_ed25519`,
    `  2. put the private settings in ${result.privateDirs.map((p) => p.dir).join(', ')}: .env for the tasks' variables, other files are overlaid on every release`,
    `  3. trust the hosts' keys: ssh-keyscan ${hosts.join(' ')} >> ~/.ssh/known_hosts, then verify each fingerprint`,
    `  4. sudo deploy check ${first} --connect`,
    `  5. sudo deploy ${first}`,
  ];
}
