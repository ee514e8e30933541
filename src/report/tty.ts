/**
 * The interactive view: a listr2 list with a line for the admin node and one
 * per host, updated from run events. listr2 only renders; the run's phases are
 * defined elsewhere and reach this view as events.
 */
import { type DefaultRenderer, Listr, type ListrTaskWrapper } from 'listr2';
import { progressText, stepText } from './line.js';
import type { Reporter, RunEvent } from './events.js';

interface Row {
  task?: ListrTaskWrapper<unknown, typeof DefaultRenderer, never>;
  title: string;
  failed?: string;
  finish: () => void;
  done: Promise<void>;
}

/**
 * listr2 wraps each line to `process.stdout.columns`, which is 0 or missing on some
 * terminals (a serial console, a pty nobody sized): it would then print one
 * character per line. Such a width is taken as 80, and a tiny one as 20.
 */
export function clampColumns(out: { columns?: number }): void {
  const cols = out.columns;
  if (typeof cols !== 'number' || !Number.isFinite(cols) || cols <= 0) out.columns = 80;
  else if (cols < 20) out.columns = 20;
}

export function ttyReporter(out: { columns?: number; on?: (event: 'resize', listener: () => void) => unknown } = process.stdout): Reporter {
  const rows = new Map<string, Row>();
  let running: Promise<unknown> | undefined;
  const notes: string[] = [];

  const row = (name: string): Row => {
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const r: Row = { title: name, finish, done };
    rows.set(name, r);
    return r;
  };

  return {
    begin(title, hosts) {
      clampColumns(out);
      // a resize sets the width anew, to 0 again on such a terminal
      out.on?.('resize', () => clampColumns(out));
      for (const name of ['admin', ...hosts]) if (!rows.has(name)) row(name);
      const list = new Listr(
        [...rows.entries()].map(([name, r]) => ({
          title: name,
          task: async (_ctx: unknown, task: ListrTaskWrapper<unknown, typeof DefaultRenderer, never>) => {
            r.task = task;
            task.title = `${name}: ${r.title === name ? 'waiting' : r.title}`;
            await r.done;
            if (r.failed) throw new Error(r.failed);
          },
        })),
        {
          concurrent: true,
          exitOnError: false,
          renderer: 'default',
          rendererOptions: { collapseErrors: false },
        },
      );
      notes.push(title);
      running = list.run().catch(() => undefined);
    },
    emit(event: RunEvent) {
      if (event.kind === 'note') {
        notes.push(event.text);
        return;
      }
      if (event.kind !== 'step' && event.kind !== 'output' && event.kind !== 'progress') return;
      const r = rows.get(event.host) ?? row(event.host);
      if (event.kind === 'progress') {
        // the row's title until the step ends: bytes, and percent when the total is known
        if (r.task) r.task.title = `${event.host}: ${progressText(event)}`;
        return;
      }
      if (event.kind === 'output') {
        if (r.task) r.task.output = event.line;
        return;
      }
      const text = stepText(event);
      r.title = text;
      if (event.state === 'fail') r.failed = event.text;
      if (r.task) r.task.title = `${event.host}: ${text}`;
    },
    async close() {
      for (const r of rows.values()) r.finish();
      await running;
      for (const n of notes.slice(1)) process.stderr.write(`${n}\n`);
    },
  };
}
