import { argumentError } from '../core/errors';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/**
 * One linear pass over UTF-8 JSON bytes before any parsing: refuses nesting deeper than `maxDepth`
 * (so `JSON.parse` never meets a hostile depth, which costs it minutes and gigabytes) and counts object keys (to detect duplicate keys afterwards, since
 * `JSON.parse` silently keeps the last one). Works on UTF-8 bytes directly: the structural
 * characters are ASCII and never occur inside a multi-byte sequence.
 */
export function scanJson(where: string, b: Uint8Array, maxDepth: number, argument: string): number {
  const isObject = new Uint8Array(maxDepth + 2);
  let depth = 0;
  let keys = 0;
  let inString = false;
  let expectKey = false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) {
      inString = true;
      if (expectKey) keys++;
      expectKey = false;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++;
      if (depth > maxDepth) {
        throw argumentError(
          'INVALID_FORMAT',
          where,
          argument,
          `JSON nested at most ${maxDepth} levels deep`,
          `nesting deeper than ${maxDepth} at byte ${i}`,
        );
      }
      isObject[depth] = c === OPEN_OBJECT ? 1 : 0;
      expectKey = c === OPEN_OBJECT;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
      expectKey = false;
    } else if (c === COMMA) {
      expectKey = depth > 0 && isObject[depth] === 1;
    }
  }
  return keys;
}

/** Keys of every object in a parsed JSON value (compare with {@link scanJson} to detect duplicates). */
export function countJsonKeys(x: unknown): number {
  if (x === null || typeof x !== 'object') return 0;
  if (Array.isArray(x)) return x.reduce((n: number, v) => n + countJsonKeys(v), 0);
  let n = 0;
  for (const v of Object.values(x)) n += 1 + countJsonKeys(v);
  return n;
}
