import type { GanpoError } from '../core/errors';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;

/**
 * Bounds a JSON text must keep before `JSON.parse` sees it. `JSON.parse`'s time and memory grow
 * with nesting depth (hostile depth costs it seconds and gigabytes), with the number of values
 * (each one a heap object) and above all with the number of keys: V8 makes a hidden class for each
 * new sequence of keys, so megabytes of objects with distinct keys cost it seconds. These are the
 * quantities to bound; the text's byte length is bounded by the caller before it is read.
 */
export interface JsonBounds {
  /** Deepest nesting of objects and arrays (the root object is level 1). */
  maxDepth: number;
  /** Most object keys in the whole text. Unbounded when left out. */
  maxKeys?: number;
  /** Most values in the whole text: object members plus array items. Unbounded when left out. */
  maxValues?: number;
}

/** Builds the error a scanner throws when a bound is exceeded (`expected`, `received` in words). */
export type BoundError = (expected: string, received: string) => GanpoError;

/**
 * A single linear pass over JSON text, fed in chunks of UTF-8 bytes as they are read, that refuses
 * the text as soon as it exceeds a {@link JsonBounds}, so a hostile file is refused after reading
 * only the bytes up to the violation, and `JSON.parse` never meets an unbounded depth, key or value
 * count. It also counts object keys, to detect duplicates after parsing (`JSON.parse` silently
 * keeps the last one). It does not validate the JSON: `JSON.parse` does that afterwards. The
 * structural characters are ASCII, which never occur inside a multi-byte UTF-8 sequence.
 */
export class JsonScanner {
  /** Object keys seen so far, at every depth (compare with {@link countJsonKeys} for duplicates). */
  keys = 0;
  /** Values seen so far: object members plus array items. */
  values = 0;
  /** Bytes scanned so far: the offsets errors name. */
  offset = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private expectKey = false;
  private readonly isObject: Uint8Array;
  private readonly arrayFresh: Uint8Array;
  private readonly maxKeys: number;
  private readonly maxValues: number;

  /** A scanner for one JSON text; `fail` builds the error thrown at the first exceeded bound. */
  constructor(
    private readonly bounds: JsonBounds,
    private readonly fail: BoundError,
  ) {
    this.isObject = new Uint8Array(bounds.maxDepth + 2);
    this.arrayFresh = new Uint8Array(bounds.maxDepth + 2);
    this.maxKeys = bounds.maxKeys ?? Number.POSITIVE_INFINITY;
    this.maxValues = bounds.maxValues ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Scans the next chunk of UTF-8 bytes. String contents, most of a typical text, are skipped with
   * native `indexOf` searches for the next quote and backslash (each searched again only once
   * passed), so only structural characters cost a step.
   */
  scanBytes(chunk: Uint8Array): void {
    const n = chunk.length;
    const base = this.offset;
    let nextQuote = -2;
    let nextBackslash = -2;
    let i = 0;
    while (i < n) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          i++;
          continue;
        }
        if (nextQuote !== -1 && nextQuote < i) nextQuote = chunk.indexOf(QUOTE, i);
        if (nextBackslash !== -1 && nextBackslash < i) nextBackslash = chunk.indexOf(BACKSLASH, i);
        if (nextBackslash !== -1 && (nextQuote === -1 || nextBackslash < nextQuote)) {
          this.escaped = true;
          i = nextBackslash + 1;
        } else if (nextQuote !== -1) {
          this.inString = false;
          i = nextQuote + 1;
        } else {
          i = n;
        }
        continue;
      }
      this.offset = base + i;
      this.step(chunk[i] as number);
      i++;
    }
    this.offset = base + n;
  }

  /** One character outside a string. */
  private step(c: number): void {
    const at = this.offset;
    if (c === SPACE || c === LF || c === CR || c === TAB) return;
    const depth = this.depth;
    if (this.arrayFresh[depth] === 1 && c !== CLOSE_ARRAY) {
      this.arrayFresh[depth] = 0;
      this.countValue(at);
    }
    if (c === QUOTE) {
      this.inString = true;
      if (this.expectKey) this.countKey(at);
      this.expectKey = false;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      const d = depth + 1;
      if (d > this.bounds.maxDepth) {
        throw this.fail(
          `JSON nested at most ${this.bounds.maxDepth} levels deep`,
          `nesting deeper than ${this.bounds.maxDepth} at offset ${at}`,
        );
      }
      this.depth = d;
      this.isObject[d] = c === OPEN_OBJECT ? 1 : 0;
      this.arrayFresh[d] = c === OPEN_ARRAY ? 1 : 0;
      this.expectKey = c === OPEN_OBJECT;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      // An unbalanced close is left for JSON.parse to refuse; the depth only must stay in range.
      if (depth > 0) this.depth = depth - 1;
      this.arrayFresh[depth] = 0;
      this.expectKey = false;
    } else if (c === COMMA && depth > 0) {
      if (this.isObject[depth] === 1) this.expectKey = true;
      else this.countValue(at);
    }
  }

  private countKey(at: number): void {
    if (++this.keys > this.maxKeys) {
      throw this.fail(`at most ${this.maxKeys} object keys`, `more, at offset ${at}`);
    }
    this.countValue(at);
  }

  private countValue(at: number): void {
    if (++this.values > this.maxValues) {
      throw this.fail(`at most ${this.maxValues} JSON values`, `more, at offset ${at}`);
    }
  }
}

/** Keys of every object in a parsed JSON value (compare with {@link JsonScanner.keys} to detect duplicates). */
export function countJsonKeys(x: unknown): number {
  if (x === null || typeof x !== 'object') return 0;
  if (Array.isArray(x)) return x.reduce((n: number, v) => n + countJsonKeys(v), 0);
  let n = 0;
  for (const v of Object.values(x)) n += 1 + countJsonKeys(v);
  return n;
}
