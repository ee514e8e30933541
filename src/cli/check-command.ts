/** `deploy check <app>-<env>`: everything that can be known without deploying (see inspect/). */
import { join } from 'node:path';
import { displayPath, loadTarget } from '../config/load.js';
import { splitTarget } from '../config/names.js';
import { ConfigError, DeployFailedError, errorMessage } from '../errors.js';
import type { Connector } from '../exec/runner.js';
import { type Finding, failures, fail, formatFindings, warn } from '../inspect/finding.js';
import { localFindings } from '../inspect/check.js';
import type { CheckOptions } from './check.js';
import { type GlobalOptions, locations } from './context.js';

/** The problems of an app file that does not load, one finding each. */
function configFindings(file: string, err: ConfigError): Finding[] {
  return err.problems.map((p) => {
    const detail = p.startsWith(`${file}: `) ? p.slice(file.length + 2) : p;
    return fail(file, 'app-file', detail, `fix ${file}; nothing else was checked`);
  });
}

export async function checkCommand(target: string, options: CheckOptions, globals: GlobalOptions, connect?: Connector): Promise<void> {
  const where = locations(globals);
  let findings: Finding[];
  try {
    const appEnv = await loadTarget(target, where);
    findings = localFindings(appEnv);
    if (options.connect) {
      const [{ connectFindings }, { releaseSize }] = await Promise.all([import('../inspect/host-check.js'), import('../inspect/release-size.js')]);
      let release: Awaited<ReturnType<typeof releaseSize>>;
      try {
        release = await releaseSize(appEnv.paths.www);
      } catch (err) {
        findings.push(warn(appEnv.paths.www, 'store', `cannot read the release store: ${errorMessage(err)}`, 'run deploy check as the user who deploys (sudo deploy check …)'));
      }
      // a key or known_hosts that cannot be read fails each host's connect (the findings above say why)
      const { envConnector } = await import('../deploy/connect/connector.js');
      const ready = connect ? Promise.resolve(connect) : envConnector(appEnv);
      ready.catch(() => undefined);
      const connector: Connector = async (host) => (await ready)(host);
      findings.push(...(await connectFindings(appEnv, connector, release)));
    }
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    findings = configFindings(displayPath(join(where.appsDir, `${splitTarget(target)?.app ?? target}.ts`)), err);
  }
  const failed = failures(findings);
  if (options.json) process.stdout.write(`${JSON.stringify({ v: 1, target, ok: failed.length === 0, connect: Boolean(options.connect), checks: findings })}\n`);
  else for (const line of formatFindings(findings)) process.stdout.write(`${line}\n`);
  if (failed.length) {
    const subjects = [...new Set(failed.map((f) => f.subject))];
    throw new DeployFailedError(`${target}: ${failed.length} of ${findings.length} checks failed (${subjects.join(', ')})`);
  }
  if (!options.json) process.stdout.write(`${target}: all ${findings.length} checks passed${options.connect ? '' : ' (add --connect to check the hosts too)'}\n`);
}
