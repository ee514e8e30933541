/**
 * One lock taker as a real process, for the lock tests: prints `ready`, waits
 * for a `go` line on stdin, tries to take the lock in argv[2] at once, prints
 * what happened as one JSON line, and a winner holds the lock until stdin
 * closes (or it is killed).
 */
import { createInterface } from 'node:readline';
import { LockHeldError } from '../../src/errors.js';
import { acquireLock } from '../../src/flows/lock.js';

const dir = process.argv[2]!;
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
process.stdout.write('ready\n');
await lines.next();
const say = (v: object) => process.stdout.write(`${JSON.stringify({ pid: process.pid, ...v })}\n`);
try {
  const lock = await acquireLock({ target: 'shop-prod', dir, command: 'deploy shop-prod', onEvent: (e) => {
    say({ event: e.kind });
  } });
  say({ result: 'won' });
  await lines.next(); // stdin closes: done
  await lock.release();
} catch (err) {
  say({ result: err instanceof LockHeldError ? 'held' : 'error', message: (err as Error).message });
}
process.exit(0);
