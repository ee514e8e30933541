/** What a CI server tells a run about itself, from its environment. */

/**
 * The build behind this run, from Jenkins' variables when present:
 * `shop-deploy #128 https://ci.example.com/job/shop-deploy/128/`.
 */
export function buildFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const job = env.JOB_NAME?.trim();
  const number = env.BUILD_NUMBER?.trim();
  const url = env.BUILD_URL?.trim();
  const name = [job, number ? `#${number}` : undefined].filter(Boolean).join(' ');
  const parts = [name, url].filter(Boolean);
  return parts.length ? parts.join(' ') : undefined;
}

/** Why a --build text is refused, or undefined: it becomes one line of a commit trailer. */
export function checkBuildText(text: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(text)) return 'must be one line without control characters';
  if (!text.trim()) return 'must not be empty';
  if (text.length > 500) return 'must be at most 500 characters';
  return undefined;
}
