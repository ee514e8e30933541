/**
 * Strict checks for every name a user or an app file supplies. Each returns
 * undefined when the value is acceptable, or a short reason when it is not,
 * so callers can report every problem at once.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Apps: lower-case words joined by single hyphens (the env never has one, see splitTarget). */
export const APP_NAME = /^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$/;
/** Envs: one lower-case word, so `<app>-<env>` splits at the last hyphen unambiguously. */
export const ENV_NAME = /^[a-z][a-z0-9_]*$/;

export function checkAppName(name: string): string | undefined {
  if (name.length > 64 || !APP_NAME.test(name)) return 'app names are lower-case letters, digits, "-" and "_", starting with a letter';
  return undefined;
}

export function checkEnvName(name: string): string | undefined {
  if (name.length > 32 || !ENV_NAME.test(name)) return 'env names are one lower-case word (letters, digits, "_"), starting with a letter';
  return undefined;
}

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function checkHostName(host: string): string | undefined {
  // Node compiles its IPv6 pattern on first use (5 ms of every start): only a name with a colon can be one
  if (host.includes(':') ? isIPv6(host) : isIPv4(host)) return undefined;
  if (host.length > 253 || !host.split('.').every((label) => LABEL.test(label))) return 'not a valid host name';
  return undefined;
}

/**
 * Characters no path of ours needs and every shell treats specially. Paths are
 * always passed as quoted argv, so this is a second wall, not the first.
 */
const SHELL_SPECIAL = /[\s;&|<>$`'"\\]/;
const SHELL_SPECIAL_REASON = 'must not contain spaces, quotes or any of ; & | < > $ ` \\';

/**
 * Git's own ref-name rules (git check-ref-format), for branches and revisions,
 * plus a refusal of a leading "-" so a ref can never be read as an option.
 */
export function checkRefName(ref: string): string | undefined {
  const bad = 'not a valid git ref name';
  if (ref === '' || ref.length > 255) return bad;
  if (ref.startsWith('-')) return 'a ref cannot start with "-"';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(ref)) return bad;
  if (ref.includes('..') || ref.includes('@{') || ref.includes('//') || ref === '@') return bad;
  if (ref.startsWith('/') || ref.endsWith('/') || ref.endsWith('.')) return bad;
  // git allows these in ref names; we do not, so a ref can never look like shell
  if (SHELL_SPECIAL.test(ref)) return `${bad} (${SHELL_SPECIAL_REASON})`;
  if (ref.split('/').some((part) => part.startsWith('.') || part.endsWith('.lock'))) return bad;
  return undefined;
}

/** An absolute path with no "..", no control characters and no leading "-" in any part. */
export function checkAbsolutePath(path: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (!path.startsWith('/') || /[\x00-\x1f\x7f]/.test(path)) return 'must be an absolute path without control characters';
  if (SHELL_SPECIAL.test(path)) return SHELL_SPECIAL_REASON;
  if (path.split('/').some((part) => part === '..' || part === '.' || part.startsWith('-'))) {
    return 'must not contain "." or ".." parts or parts starting with "-"';
  }
  return undefined;
}

/** A path inside a tree: relative, no "..", no control characters. */
export function checkRelativePath(path: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (path === '' || path.startsWith('/') || /[\x00-\x1f\x7f]/.test(path)) return 'must be a relative path without control characters';
  if (SHELL_SPECIAL.test(path)) return SHELL_SPECIAL_REASON;
  if (path.split('/').some((part) => part === '..' || part.startsWith('-'))) return 'must not contain ".." or parts starting with "-"';
  return undefined;
}

/**
 * An app's `repo`: a URL (https://, ssh://, git://, file://), scp-like `user@host:path`, or an
 * absolute path. git itself would take `ext::sh -c …` (a command to run) or an option, so only
 * those forms pass, and nothing a shell would read specially.
 */
export function checkRepo(repo: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (repo === '' || /[\x00-\x1f\x7f]/.test(repo)) return 'must be a URL or a path without control characters';
  if (repo.startsWith('-')) return 'must not start with "-"';
  if (SHELL_SPECIAL.test(repo) || /[()]/.test(repo)) return 'must not contain spaces, quotes, parentheses or any of ; & | < > $ ` \\';
  if (/^[a-z][a-z0-9+.-]*::/i.test(repo)) return 'git remote helpers ("transport::address") are not allowed';
  if (/^(https?|ssh|git|file):\/\/[^/]/.test(repo) || repo.startsWith('file:///')) return undefined;
  if (/^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/]/.test(repo) || /^[A-Za-z0-9.-]+:[^/]/.test(repo)) return undefined;
  if (repo.startsWith('/')) return checkAbsolutePath(repo);
  return 'must be a URL (https://, ssh://, git://, file://), user@host:path, or an absolute path';
}

/** System directories a web server's `remote.path` must never be (nor be inside, for the first list). */
const SYSTEM_TREES = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/sbin', '/sys', '/usr'];
const SYSTEM_DIRS = ['/', '/home', '/media', '/mnt', '/opt', '/root', '/run', '/srv', '/tmp', '/var', '/var/lib', '/var/log', '/var/tmp', '/data'];

/** `remote.path`: an absolute path that is not a system directory (Slipway creates and prunes `releases/` there). */
export function checkRemotePath(path: string): string | undefined {
  const reason = checkAbsolutePath(path);
  if (reason) return reason;
  const clean = path.replace(/\/+$/, '') || '/';
  if (SYSTEM_DIRS.includes(clean) || SYSTEM_TREES.some((d) => clean === d || clean.startsWith(`${d}/`))) {
    return `${clean} is a system directory; use a directory of its own such as /data/www/{app}`;
  }
  return undefined;
}

/** Split `<app>-<env>` at its last hyphen. The caller checks both halves exist. */
export function splitTarget(target: string): { app: string; env: string } | undefined {
  const at = target.lastIndexOf('-');
  if (at <= 0 || at === target.length - 1) return undefined;
  const app = target.slice(0, at);
  const env = target.slice(at + 1);
  if (checkAppName(app) || checkEnvName(env)) return undefined;
  return { app, env };
}
