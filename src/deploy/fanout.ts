/**
 * The one bound on work on hosts. A run's HostSlots lets no more than `parallel` host
 * operations (a connection's handshake and look, a tree sent ahead, a stage, a prune…)
 * run at once, whichever fan-out they come from: the connections opened early, the trees
 * sent ahead and the stage overlap in time, and together they stay within the bound.
 * onEachHost runs one piece of work on many hosts and collects a result for every host: a
 * failure never escapes as an exception that could be lost in a worker; it is kept, with
 * the host's name, in that host's result. p-map is called here and nowhere else.
 */
import pMap from 'p-map';
import { errorMessage } from '../errors.js';

export type Outcome<T> = { host: string; ok: true; value: T } | { host: string; ok: false; error: string };

/**
 * At most `size` operations at once, started in the order they asked. An operation holds
 * its slot only while it works on its host, never while it waits for another host
 * operation (its connection, its look, its tree sent ahead), so slots cannot deadlock.
 */
export class HostSlots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {
    this.free = Math.max(1, size);
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      // the slot passes straight to the next in line, or is freed
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

export async function onEachHost<H extends { name: string }, T>(
  hosts: readonly H[],
  concurrency: number,
  work: (host: H) => Promise<T>,
  options: { signal?: AbortSignal; slots?: HostSlots } = {},
): Promise<Outcome<T>[]> {
  const slots = options.slots;
  return pMap(
    hosts,
    async (host): Promise<Outcome<T>> => {
      // once interrupted, hosts still waiting for a slot are left as they are
      if (options.signal?.aborted) return { host: host.name, ok: false, error: `not started: interrupted by ${String(options.signal.reason)}` };
      try {
        return { host: host.name, ok: true, value: await (slots ? slots.run(() => work(host)) : work(host)) };
      } catch (err) {
        const message = errorMessage(err);
        // HostError already starts with the host's name
        return { host: host.name, ok: false, error: message.startsWith(`${host.name}: `) ? message.slice(host.name.length + 2) : message };
      }
    },
    { concurrency },
  );
}
