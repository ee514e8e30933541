/**
 * The interactive view: a listr2 list with a line for the admin node and one
 * per host, updated from run events. listr2 only renders; the run's phases are
 * defined elsewhere and reach this view as events.
 */
import { type DefaultRenderer, Listr, type ListrTaskWrapper } from 'listr2';
import { formatDuration } from './line.js';
import type { Reporter, RunEvent } from './events.js';

interface Row {
  task?: ListrTaskWrapper<unknown, typeof DefaultRenderer, never>;
  title: string;
  failed?: string;
  finish: () => void;
  done: Promise<void>;
}

export function ttyReporter(): Reporter {
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
      if (event.kind !== 'step' && event.kind !== 'output') return;
      const r = rows.get(event.host) ?? row(event.host);
      if (event.kind === 'output') {
        if (r.task) r.task.output = event.line;
        return;
      }
      const text = event.ms === undefined ? event.text : `${event.text} (${formatDuration(event.ms)})`;
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
