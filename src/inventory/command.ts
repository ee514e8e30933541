/**
 * Run a dynamic inventory command (argv, no shell) and return what it printed: bounded in time
 * and in size, as its own process group so that a timeout also stops whatever it started.
 */
import { execa } from 'execa';
import { problem } from './model.js';

/** The last few lines of what the command said on stderr, for the message. */
function tail(stderr: Uint8Array): string {
  const text = Buffer.from(stderr).toString('utf8').trimEnd();
  return text ? `: ${text.split('\n').slice(-5).join(' | ').slice(-500)}` : '';
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // the group is gone already
  }
}

/** stdout of `argv`, as UTF-8 text. `shown` names the command in every message. */
export async function runInventoryCommand(argv: readonly string[], shown: string, timeoutS: number, maxBytes: number): Promise<string> {
  const [program, ...args] = argv;
  if (!program) throw problem(shown, 'an inventory command needs at least a program');
  const child = execa(program, args, {
    stdin: 'ignore',
    encoding: 'buffer',
    maxBuffer: maxBytes,
    reject: false,
    // a signal to the command alone would leave its children holding the output open
    detached: true,
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid);
  }, timeoutS * 1000);
  const result = await child.finally(() => clearTimeout(timer));
  if (timedOut) throw problem(shown, `gave no answer within ${timeoutS} s and was stopped`);
  if (result.isMaxBuffer) {
    killGroup(child.pid);
    throw problem(shown, `printed more than ${maxBytes} bytes`);
  }
  if (result.signal) throw problem(shown, `was killed by ${result.signal}${tail(result.stderr)}`);
  if (result.exitCode === undefined) throw problem(shown, `could not run: ${result.shortMessage}`);
  if (result.exitCode !== 0) throw problem(shown, `exited ${result.exitCode}${tail(result.stderr)}`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(result.stdout);
  } catch {
    throw problem(shown, 'printed something that is not UTF-8 text');
  }
}
