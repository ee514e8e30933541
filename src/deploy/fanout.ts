/**
 * Run one piece of work on many hosts with bounded parallelism, and collect a
 * result for every host. A failure never escapes as an exception that could be
 * lost in a worker; it is kept, with the host's name, in that host's result.
 */
import pMap from 'p-map';
import { errorMessage } from '../errors.js';

export type Outcome<T> = { host: string; ok: true; value: T } | { host: string; ok: false; error: string };

export async function onEachHost<H extends { name: string }, T>(
  hosts: readonly H[],
  concurrency: number,
  work: (host: H) => Promise<T>,
  options: { signal?: AbortSignal } = {},
): Promise<Outcome<T>[]> {
  return pMap(
    hosts,
    async (host): Promise<Outcome<T>> => {
      // once interrupted, hosts still waiting for a slot are left as they are
      if (options.signal?.aborted) return { host: host.name, ok: false, error: `not started: interrupted by ${String(options.signal.reason)}` };
      try {
        return { host: host.name, ok: true, value: await work(host) };
      } catch (err) {
        const message = errorMessage(err);
        // HostError already starts with the host's name
        return { host: host.name, ok: false, error: message.startsWith(`${host.name}: `) ? message.slice(host.name.length + 2) : message };
      }
    },
    { concurrency },
  );
}
