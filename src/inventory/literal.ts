/**
 * The value of an INI inventory variable, typed as Ansible types it: Python's ast.literal_eval
 * of the text, or the text itself when that is no literal. So `22` is a number, `True` a
 * boolean, `"['a', 'b']"` a list and `web01` a string. Covered: numbers, True/False/None,
 * quoted strings, lists, tuples and dicts; complex numbers, bytes and sets stay text.
 */

/** Thrown inside the reader when the text is no literal it covers: the caller keeps the text. */
class NotALiteral extends Error {}

export function iniValue(text: string): unknown {
  try {
    const reader = new LiteralReader(text);
    const value = reader.value();
    reader.end();
    return value;
  } catch (err) {
    if (err instanceof NotALiteral) return text;
    throw err;
  }
}

const DIGITS = String.raw`[0-9](?:_?[0-9])*`;
const EXPONENT = String.raw`[eE][+-]?${DIGITS}`;
const NUMBER = new RegExp(
  [
    String.raw`0[xX](?:_?[0-9a-fA-F])+`,
    String.raw`0[oO](?:_?[0-7])+`,
    String.raw`0[bB](?:_?[01])+`,
    String.raw`(?:${DIGITS})?\.${DIGITS}(?:${EXPONENT})?`,
    String.raw`${DIGITS}\.(?:${EXPONENT})?`,
    `${DIGITS}${EXPONENT}`,
    String.raw`[1-9](?:_?[0-9])*`,
    '0(?:_?0)*',
  ].join('|'),
  'y',
);
const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const STRING_START = /([rRuU]?)('''|"""|'|")/y;
const SIMPLE_ESCAPES: Record<string, string> = { '\n': '', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

class LiteralReader {
  private i = 0;
  constructor(private readonly s: string) {}

  value(): unknown {
    this.space();
    const c = this.s[this.i];
    if (c === '-' || c === '+') {
      this.i++;
      this.space();
      const n = this.number();
      if (n === undefined) throw new NotALiteral();
      return c === '-' ? -n : n;
    }
    if (c === '[') return this.sequence(']');
    if (c === '(') return this.parenthesised();
    if (c === '{') return this.dict();
    const n = this.number();
    if (n !== undefined) return n;
    const s = this.strings();
    if (s !== undefined) return s;
    const name = this.match(NAME);
    if (name === 'True') return true;
    if (name === 'False') return false;
    if (name === 'None') return null;
    throw new NotALiteral();
  }

  /** Only space, and a Python comment, may follow the value. */
  end(): void {
    this.space();
    if (this.i < this.s.length && this.s[this.i] !== '#') throw new NotALiteral();
  }

  private space(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
  }

  private match(re: RegExp): string | undefined {
    re.lastIndex = this.i;
    const m = re.exec(this.s);
    if (!m) return undefined;
    this.i = re.lastIndex;
    return m[0];
  }

  private number(): number | undefined {
    const text = this.match(NUMBER);
    if (text === undefined) return undefined;
    // `01`, `1j`, `1abc`: no literal Python (or this reader) reads as a plain number
    if (/[A-Za-z0-9_.]/.test(this.s[this.i] ?? '')) throw new NotALiteral();
    const clean = text.replaceAll('_', '');
    const n = Number(clean);
    if (!/[.eE]/.test(clean) || /^0[xXoObB]/.test(clean)) {
      // an integer past 2^53 would lose digits as a number: keep the text
      if (!Number.isSafeInteger(n)) throw new NotALiteral();
    }
    return n;
  }

  /** Adjacent string literals join, as in Python: `'a' "b"` is `ab`. */
  private strings(): string | undefined {
    let out: string | undefined;
    for (;;) {
      STRING_START.lastIndex = this.i;
      const m = STRING_START.exec(this.s);
      if (!m) return out;
      this.i = STRING_START.lastIndex;
      out = (out ?? '') + this.stringBody(m[2]!, m[1]!.toLowerCase() === 'r');
      this.space();
    }
  }

  private stringBody(quote: string, raw: boolean): string {
    let out = '';
    while (this.i < this.s.length) {
      if (this.s.startsWith(quote, this.i)) {
        this.i += quote.length;
        return out;
      }
      const c = this.s[this.i++]!;
      if (c === '\n' && quote.length === 1) break;
      if (c !== '\\') out += c;
      else if (raw) out += c + (this.s[this.i++] ?? '');
      else out += this.escape();
    }
    throw new NotALiteral();
  }

  private escape(): string {
    const c = this.s[this.i++] ?? '';
    if (c in SIMPLE_ESCAPES) return SIMPLE_ESCAPES[c]!;
    const code = (re: RegExp) => {
      const hex = this.match(re);
      const point = hex === undefined ? NaN : parseInt(hex, c >= '0' && c <= '7' ? 8 : 16);
      if (Number.isNaN(point) || point > 0x10ffff) throw new NotALiteral();
      return String.fromCodePoint(point);
    };
    if (c >= '0' && c <= '7') {
      this.i--;
      return code(/[0-7]{1,3}/y);
    }
    if (c === 'x') return code(/[0-9a-fA-F]{2}/y);
    if (c === 'u') return code(/[0-9a-fA-F]{4}/y);
    if (c === 'U') return code(/[0-9a-fA-F]{8}/y);
    // \N{NAME} needs Unicode's name table; other unknown escapes keep their backslash, as in Python
    if (c === 'N') throw new NotALiteral();
    return `\\${c}`;
  }

  /** `[a, b]`, and a tuple's items after its opening parenthesis. */
  private sequence(close: string): unknown[] {
    if (this.s[this.i] === '[') this.i++;
    const items: unknown[] = [];
    for (;;) {
      this.space();
      if (this.s[this.i] === close) break;
      items.push(this.value());
      this.space();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== close) throw new NotALiteral();
    }
    this.i++;
    return items;
  }

  /** `(x)` is x; `()`, `(x,)` and `(x, y)` are tuples, which become lists as in Ansible's JSON. */
  private parenthesised(): unknown {
    this.i++;
    this.space();
    if (this.s[this.i] === ')') {
      this.i++;
      return [];
    }
    const first = this.value();
    this.space();
    if (this.s[this.i] === ')') {
      this.i++;
      return first;
    }
    if (this.s[this.i] !== ',') throw new NotALiteral();
    this.i++;
    return [first, ...this.sequence(')')];
  }

  private dict(): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = {};
    for (;;) {
      this.space();
      if (this.s[this.i] === '}') break;
      const key = this.value();
      // a list or dict cannot be a key; a key with no value makes a set
      if (typeof key === 'object' && key !== null) throw new NotALiteral();
      this.space();
      if (this.s[this.i] !== ':') throw new NotALiteral();
      this.i++;
      out[String(key)] = this.value();
      this.space();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== '}') throw new NotALiteral();
    }
    this.i++;
    return out;
  }
}
