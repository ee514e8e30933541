/**
 * Secrets are removed from everything a run prints. Private values are
 * registered here (by src/secrets.ts, once per run); every renderer, the
 * history, the notifications and the CLI's error handler pass their text
 * through `redact` before it is serialised.
 */
import type { Reporter, RunEvent } from './events.js';

export const REDACTED = '[REDACTED]';

const known = new Set<string>();
let ordered: string[] = [];

/** Register secret values (too-short values would redact ordinary words, and are kept out). */
export function addSecrets(values: Iterable<string>): void {
  for (const v of values) {
    if (v.length >= 3) known.add(v);
    // output is redacted line by line, so a multi-line value (a PEM key) is also known by its lines
    if (v.includes('\n')) for (const line of v.split(/\r?\n/)) if (line.trim().length >= 6) known.add(line.trim());
  }
  // longest first, so a secret that contains another is removed whole
  ordered = [...known].sort((a, b) => b.length - a.length);
}

export function redact(text: string): string {
  let out = text;
  for (const value of ordered) out = out.split(value).join(REDACTED);
  return out;
}

/**
 * A copy of a JSON-able value with every string in it redacted, for payloads
 * that are serialised afterwards: once JSON-escaped, a secret holding `"`, `\`
 * or a newline no longer matches its registered form.
 */
export function redactValue<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactValue(v)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [redact(k), redactValue(v)])) as T;
  }
  return value;
}

function clean(event: RunEvent): RunEvent {
  switch (event.kind) {
    case 'step':
      return { ...event, text: redact(event.text) };
    case 'output':
      return { ...event, line: redact(event.line) };
    case 'progress':
    case 'note':
      return { ...event, text: redact(event.text) };
    case 'run':
      return event.state === 'finish' && event.error !== undefined ? { ...event, error: redact(event.error) } : event;
    default:
      return event;
  }
}

/** A reporter that redacts every text before passing it on. */
export function redacting(inner: Reporter): Reporter {
  return {
    begin: (title, hosts) => inner.begin(redact(title), hosts),
    emit: (event) => inner.emit(clean(event)),
    close: () => inner.close(),
  };
}
