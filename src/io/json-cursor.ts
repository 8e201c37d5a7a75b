/**
 * What went wrong while reading JSON: nesting past the bound (`depth`), another bound of the
 * caller's (`bound`), or text that is not JSON (`json`); `reason` says where, in words.
 */
export type JsonFault = (kind: 'depth' | 'bound' | 'json', reason: string) => Error;

/** The next character that ends or interrupts a string's plain run: a quote, a backslash, a control. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON forbids raw control characters in strings; this finds them.
const STRING_STOP = /["\\\u0000-\u001f]/g;
const ESCAPE = /(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y;

/** Placeholders for skipped containers: a check that only asks an object's or array's kind sees one. */
export const AN_OBJECT: Readonly<Record<string, never>> = Object.freeze({});
export const AN_ARRAY: readonly never[] = Object.freeze([]);

/**
 * A JSON reader over a string that validates everything as `JSON.parse` does but builds only what
 * its caller asks for: the caller walks objects and arrays with {@link members} and {@link items},
 * keeps the values it needs and {@link skip}s the rest, which is checked without being built.
 *
 * Why not `JSON.parse`: it makes every key of every object a property, and V8 pays for each new
 * sequence of keys with a new hidden class, so a few megabytes of objects with distinct keys cost
 * it seconds and hundreds of megabytes, which no bound on bytes or nesting prevents. Here no key
 * from the text becomes a property unless the caller makes it one, nesting is refused as soon as it
 * passes `maxDepth`, and the cost is linear in the text: plain string runs are found with one native
 * regular-expression search each, so ordinary text reads about as fast as with `JSON.parse`.
 */
export class JsonCursor {
  /** Position of the next character to read. */
  protected i = 0;

  constructor(
    protected readonly s: string,
    protected readonly maxDepth: number,
    protected readonly fault: JsonFault,
  ) {}

  /** A `json` fault at the current position. */
  protected bad(what: string): Error {
    return this.fault('json', `${what} at position ${this.i}`);
  }

  /** The code of the next character (NaN at the end). */
  protected peek(): number {
    return this.s.charCodeAt(this.i);
  }

  /** Skips JSON whitespace (space, tab, line feed, carriage return). */
  protected ws(): void {
    const s = this.s;
    let i = this.i;
    for (
      let c = s.charCodeAt(i);
      c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
      c = s.charCodeAt(++i)
    );
    this.i = i;
  }

  /** Refuses anything but whitespace after the value. */
  protected end(): void {
    this.ws();
    if (this.i !== this.s.length) throw this.bad('unexpected text after the value');
  }

  private expect(c: number, what: string): void {
    this.ws();
    if (this.peek() !== c) throw this.bad(`expected ${what}`);
    this.i++;
  }

  private enter(depth: number): void {
    if (depth > this.maxDepth) {
      throw this.fault('depth', `nesting deeper than ${this.maxDepth} at position ${this.i}`);
    }
  }

  /**
   * Walks the object at the current position, at nesting level `depth` (the root is 1): for each
   * member, `take(key)` reads its value (the cursor is at it) and returns true, or returns false to
   * have it checked and skipped.
   */
  protected members(depth: number, take: (key: string) => boolean): void {
    this.enter(depth);
    this.i++;
    this.ws();
    if (this.peek() === 0x7d) {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      if (this.peek() !== 0x22) throw this.bad('expected a string key');
      const key = this.string(true) as string;
      this.expect(0x3a, "':'");
      this.ws();
      if (!take(key)) this.skip(depth + 1);
      this.next(0x7d, "expected ',' or '}'");
      if (this.s.charCodeAt(this.i - 1) === 0x7d) return;
    }
  }

  /**
   * Walks the array at the current position, at nesting level `depth`: `item()` reads each item
   * (the cursor is at it). More than `maxItems` items is a `bound` fault.
   */
  protected items(depth: number, item: () => void, maxItems = Number.POSITIVE_INFINITY): void {
    this.enter(depth);
    this.i++;
    this.ws();
    if (this.peek() === 0x5d) {
      this.i++;
      return;
    }
    for (let n = 1; ; n++) {
      if (n > maxItems) throw this.fault('bound', `arrays of at most ${maxItems} items`);
      this.ws();
      item();
      this.next(0x5d, "expected ',' or ']'");
      if (this.s.charCodeAt(this.i - 1) === 0x5d) return;
    }
  }

  /** Consumes the `,` or the closing character after a member or item. */
  private next(close: number, what: string): void {
    this.ws();
    const c = this.peek();
    if (c !== 0x2c && c !== close) throw this.bad(what);
    this.i++;
  }

  /** A string, number or literal as its value; an object or array checked, skipped and given as a placeholder. */
  protected kindOf(depth: number): unknown {
    const c = this.peek();
    if (c === 0x22) return this.string(true);
    if (c === 0x7b || c === 0x5b) {
      this.skip(depth);
      return c === 0x7b ? AN_OBJECT : AN_ARRAY;
    }
    return this.scalar();
  }

  /** Checks the value at the current position (at nesting level `depth`) without building it. */
  protected skip(depth: number): void {
    const c = this.peek();
    if (c === 0x22) this.string(false);
    else if (c === 0x7b) this.members(depth, () => false);
    else if (c === 0x5b) this.items(depth, () => this.skip(depth + 1));
    else this.scalar();
  }

  /** A number, `true`, `false` or `null`. */
  protected scalar(): number | boolean | null {
    const s = this.s;
    const c = s.charCodeAt(this.i);
    if (c === 0x74 && s.startsWith('true', this.i)) {
      this.i += 4;
      return true;
    }
    if (c === 0x66 && s.startsWith('false', this.i)) {
      this.i += 5;
      return false;
    }
    if (c === 0x6e && s.startsWith('null', this.i)) {
      this.i += 4;
      return null;
    }
    return this.number();
  }

  /** A number as JSON writes it: `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`. */
  private number(): number {
    const s = this.s;
    const start = this.i;
    let j = start;
    if (s.charCodeAt(j) === 0x2d) j++;
    const first = s.charCodeAt(j);
    if (first === 0x30) j++;
    else if (first >= 0x31 && first <= 0x39) j = digits(s, j);
    else throw this.bad(j >= s.length ? 'unexpected end' : 'unexpected character');
    let plain = true;
    if (s.charCodeAt(j) === 0x2e) {
      const k = digits(s, j + 1);
      if (k === j + 1) throw this.bad('a digit expected after the decimal point');
      j = k;
      plain = false;
    }
    const e = s.charCodeAt(j);
    if (e === 0x65 || e === 0x45) {
      j++;
      const sign = s.charCodeAt(j);
      if (sign === 0x2b || sign === 0x2d) j++;
      const k = digits(s, j);
      if (k === j) throw this.bad('a digit expected in the exponent');
      j = k;
      plain = false;
    }
    this.i = j;
    if (plain && j - start <= 15) {
      // Small integers, nearly all numbers of a header, without making a string.
      let value = 0;
      for (let k = s.charCodeAt(start) === 0x2d ? start + 1 : start; k < j; k++) {
        value = value * 10 + (s.charCodeAt(k) - 0x30);
      }
      return s.charCodeAt(start) === 0x2d ? -value : value;
    }
    return Number(s.slice(start, j));
  }

  /**
   * The string at the current position (its value when `keep`), checked as JSON requires: no raw
   * control characters, only valid escapes.
   */
  protected string(keep: boolean): string | undefined {
    const s = this.s;
    const start = this.i;
    let at = start + 1;
    // Short runs (keys, dtypes, roles) by hand; a long one with one native search.
    const hand = Math.min(s.length, at + 32);
    while (at < hand) {
      const c = s.charCodeAt(at);
      if (c === 0x22 || c === 0x5c || c < 0x20) break;
      at++;
    }
    let escaped = false;
    for (;;) {
      let stop = at;
      const c0 = s.charCodeAt(stop);
      if (!(c0 === 0x22 || c0 === 0x5c || c0 < 0x20)) {
        STRING_STOP.lastIndex = at;
        const m = STRING_STOP.exec(s);
        if (m === null) {
          this.i = s.length;
          throw this.bad('unterminated string');
        }
        stop = m.index;
      }
      const c = s.charCodeAt(stop);
      if (c === 0x22) {
        this.i = stop + 1;
        if (!keep) return undefined;
        return escaped ? (JSON.parse(s.slice(start, stop + 1)) as string) : s.slice(start + 1, stop);
      }
      this.i = stop;
      if (Number.isNaN(c)) throw this.bad('unterminated string');
      if (c !== 0x5c) throw this.bad('a control character in a string');
      ESCAPE.lastIndex = stop + 1;
      const e = ESCAPE.exec(s);
      if (e === null) throw this.bad('an invalid escape');
      escaped = true;
      at = stop + 1 + e[0].length;
    }
  }
}

/** The position after the run of ASCII digits starting at `j`. */
function digits(s: string, j: number): number {
  let k = j;
  for (let c = s.charCodeAt(k); c >= 0x30 && c <= 0x39; c = s.charCodeAt(++k));
  return k;
}
