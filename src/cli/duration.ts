/** `--wait 30s|5m|1h`: how long a run waits for the app-env's lock. */
import { UsageError } from '../errors.js';

/** `30s`, `5m`, `1h`, or plain seconds → ms. */
export function parseDuration(text: string): number | undefined {
  const m = /^([0-9]{1,6})(s|m|h)?$/.exec(text);
  if (!m) return undefined;
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 's' | 'm' | 'h'];
}

/** `--wait 30s|5m|1h` → ms; undefined → refuse at once. */
export function parseWait(text: string | undefined): number {
  if (text === undefined) return 0;
  const ms = parseDuration(text);
  if (ms === undefined) throw new UsageError(`--wait ${JSON.stringify(text)}: expected a duration such as 30s, 5m or 1h`);
  return ms;
}
