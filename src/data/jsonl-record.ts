import { JsonCursor, type JsonFault } from '../io/json-cursor';

/** The fields of a TRL preference record; every other key is checked and skipped. */
const FIELDS = new Set(['prompt', 'chosen', 'rejected']);

/** One line read: the record's fields (or a non-object value), and its first keys for messages. */
export interface RecordLine {
  /** The value, with only `prompt`, `chosen` and `rejected` kept when it is an object. */
  record: unknown;
  /** The first 8 keys of the object, in order (to name them when a field is missing). */
  keys: string[];
}

/**
 * Reads one JSONL line of TRL preference data (see {@link JsonCursor}): all of it is checked as
 * `JSON.parse` would, but only what the record's checks look at is built: the `prompt`, `chosen`
 * and `rejected` values, the `role` and `content` of their messages, and the kind of anything else
 * there. The cost is linear in the line whatever its keys, and nesting past `maxDepth` is refused
 * when met. Duplicate keys keep the last value, as `JSON.parse` and Python's `json` do.
 */
export function readRecordLine(line: string, maxDepth: number, fault: JsonFault): RecordLine {
  return new RecordReader(line, maxDepth, fault).line();
}

class RecordReader extends JsonCursor {
  line(): RecordLine {
    this.ws();
    const keys: string[] = [];
    const record = this.peek() === 0x7b ? this.record(keys) : this.kindOf(1);
    this.end();
    return { record, keys };
  }

  /** The top-level object: the three fields built, everything else checked and skipped. */
  private record(keys: string[]): Record<string, unknown> {
    const fields = new Map<string, unknown>();
    this.members(1, (key) => {
      if (keys.length < 8 && !keys.includes(key)) keys.push(key);
      if (!FIELDS.has(key)) return false;
      fields.set(key, this.text(2));
      return true;
    });
    // Built in one fixed order, so that every record has one of a few shapes.
    const out: Record<string, unknown> = {};
    for (const key of FIELDS) if (fields.has(key)) out[key] = fields.get(key);
    return out;
  }

  /** A field's value: text, a list of messages, or (for the checks' messages) another value's kind. */
  private text(depth: number): unknown {
    if (this.peek() !== 0x5b) return this.kindOf(depth);
    const list: unknown[] = [];
    this.items(depth, () => list.push(this.message(depth + 1)));
    return list;
  }

  /** A message: `role` and `content` kept (or the kind of another value), other keys skipped. */
  private message(depth: number): unknown {
    if (this.peek() !== 0x7b) return this.kindOf(depth);
    const kept = new Map<string, unknown>();
    this.members(depth, (key) => {
      if (key !== 'role' && key !== 'content') return false;
      kept.set(key, this.kindOf(depth + 1));
      return true;
    });
    const out: Record<string, unknown> = {};
    for (const key of ['role', 'content']) if (kept.has(key)) out[key] = kept.get(key);
    return out;
  }
}
