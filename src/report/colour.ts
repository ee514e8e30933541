/**
 * Whether to colour the terminal view, decided once for the whole run: the only
 * colour Slipway emits is listr2's live view, through colorette. Lines (CI, pipes)
 * and JSON never carry colour, whatever is set.
 */

/** Precedence, strongest first: --no-color; NO_COLOR (any non-empty value); FORCE_COLOR; a terminal. */
export function useColour(options: { noColor?: boolean; env?: NodeJS.ProcessEnv; stream?: { isTTY?: boolean } } = {}): boolean {
  const { noColor = false, env = process.env, stream = process.stdout } = options;
  if (noColor) return false;
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  // FORCE_COLOR=0 or false turns colour off, as in Node's own and chalk's reading of it
  if (force !== undefined) return !['0', 'false'].includes(force.trim().toLowerCase());
  return Boolean(stream.isTTY) && env.TERM !== 'dumb';
}

/**
 * colorette (listr2's colours) reads NO_COLOR and FORCE_COLOR once, when it is loaded, and
 * takes them as set even when empty, FORCE_COLOR=0 included. So the module that loads it is
 * imported with both set to match the decision, then the environment is put back as it was:
 * child processes (admin tasks, git) see what the operator set.
 */
export async function importWithColour<T>(colour: boolean, load: () => Promise<T>, env: NodeJS.ProcessEnv = process.env): Promise<T> {
  const saved = { NO_COLOR: env.NO_COLOR, FORCE_COLOR: env.FORCE_COLOR };
  if (colour) {
    delete env.NO_COLOR;
    env.FORCE_COLOR = '1';
  } else {
    env.NO_COLOR = '1';
    delete env.FORCE_COLOR;
  }
  try {
    return await load();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete env[key];
      else env[key] = value;
    }
  }
}
