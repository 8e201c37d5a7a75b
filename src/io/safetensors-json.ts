import { JsonCursor, type JsonFault } from './json-cursor';

/** A header's JSON as read: each entry's name and its (checked later) fields, and the metadata map. */
export interface HeaderJson {
  entries: { name: string; info: unknown }[];
  /** The `__metadata__` members (values as read), or undefined without one. */
  metadata?: Map<string, unknown> | unknown;
}

/** Bounds of a header's JSON (see {@link readHeaderJson}). */
export interface HeaderJsonBounds {
  maxDepth: number;
  /** Most tensor entries (`__metadata__` not counted), and most members of `__metadata__`. */
  maxEntries: number;
  /** Most items of a `shape` or `data_offsets` array. */
  maxItems: number;
  /** Most keys of one tensor entry (3 are read; others are checked and skipped). */
  maxEntryKeys: number;
}

/**
 * Reads a safetensors header's JSON text with a {@link JsonCursor}: the whole text is checked as
 * `JSON.parse` would, entries, their `dtype`, `shape` and `data_offsets` and the `__metadata__`
 * map are built (duplicate keys refused in each of them), and every bound of `bounds` is refused
 * as soon as it is passed, so the cost is linear in the header and no key of it becomes a
 * property of a JS object (which costs V8 a hidden class per new sequence of keys).
 */
export function readHeaderJson(text: string, bounds: HeaderJsonBounds, fault: JsonFault): HeaderJson {
  return new HeaderReader(text, bounds, fault).header();
}

class HeaderReader extends JsonCursor {
  constructor(
    text: string,
    private readonly bounds: HeaderJsonBounds,
    fault: JsonFault,
  ) {
    super(text, bounds.maxDepth, fault);
  }

  header(): HeaderJson {
    this.ws();
    if (this.peek() !== 0x7b) throw this.bad("expected '{'");
    const out: HeaderJson = { entries: [] };
    const seen = this.uniqueKeys(this.bounds.maxEntries + 1, 'entries (tensors and __metadata__)');
    this.members(1, (name) => {
      seen(name);
      if (name === '__metadata__') out.metadata = this.metadata(2);
      else if (out.entries.length === this.bounds.maxEntries) {
        throw this.fault('bound', `at most ${this.bounds.maxEntries} tensors`);
      } else out.entries.push({ name, info: this.entry(2) });
      return true;
    });
    this.end();
    return out;
  }

  /** A check that refuses a key seen before in the same object, or more than `max` keys. */
  private uniqueKeys(max: number, what: string): (key: string) => void {
    const seen = new Set<string>();
    return (key) => {
      if (seen.has(key)) throw this.fault('json', `'${key.slice(0, 40)}' given twice (no duplicate keys)`);
      seen.add(key);
      if (seen.size > max) throw this.fault('bound', `at most ${max} ${what}`);
    };
  }

  /** A tensor entry: `dtype`, `shape` and `data_offsets` read, other keys checked and skipped. */
  private entry(depth: number): unknown {
    if (this.peek() !== 0x7b) return this.kindOf(depth);
    // At most maxEntryKeys keys: a short array finds duplicates faster than a Set.
    const keys: string[] = [];
    let dtype: unknown;
    let shape: unknown;
    let offsets: unknown;
    this.members(depth, (key) => {
      if (keys.includes(key))
        throw this.fault('json', `'${key.slice(0, 40)}' given twice (no duplicate keys)`);
      if (keys.push(key) > this.bounds.maxEntryKeys) {
        throw this.fault('bound', `at most ${this.bounds.maxEntryKeys} keys in a tensor entry`);
      }
      if (key === 'dtype') dtype = this.kindOf(depth + 1);
      else if (key === 'shape') shape = this.numbers(depth + 1);
      else if (key === 'data_offsets') offsets = this.numbers(depth + 1);
      else return false;
      return true;
    });
    const out: Record<string, unknown> = {};
    if (keys.includes('dtype')) out.dtype = dtype;
    if (keys.includes('shape')) out.shape = shape;
    if (keys.includes('data_offsets')) out.data_offsets = offsets;
    return out;
  }

  /** An array of at most `maxItems` values (numbers, when the header is valid). */
  private numbers(depth: number): unknown {
    if (this.peek() !== 0x5b) return this.kindOf(depth);
    const out: unknown[] = [];
    this.items(depth, () => out.push(this.kindOf(depth + 1)), this.bounds.maxItems);
    return out;
  }

  /** The `__metadata__` object's members, in order (values as read, checked by the caller). */
  private metadata(depth: number): unknown {
    if (this.peek() !== 0x7b) return this.kindOf(depth);
    const out = new Map<string, unknown>();
    const seen = this.uniqueKeys(this.bounds.maxEntries, 'metadata keys');
    this.members(depth, (key) => {
      seen(key);
      out.set(key, this.kindOf(depth + 1));
      return true;
    });
    return out;
  }
}
