import { argumentError, GanpoError } from '../core/errors';
import { readRecordLine } from './jsonl-record';
import { lineError, type PreferenceExample, type PreferenceFormat, toPreferenceExample } from './trl-format';

/**
 * Size limits of the JSONL readers. Preference files are untrusted input: each limit bounds memory
 * and time before any line is parsed, and a file over one is refused with `OUT_OF_RANGE`.
 */
export interface JsonlLimits {
  /** Most bytes of the whole source. Default 128 MiB (about 100 k long chat pairs). */
  maxBytes?: number;
  /** Most bytes (UTF-8) of one line, i.e. one example. Default 4 MiB. */
  maxLineBytes?: number;
  /** Most examples (non-blank lines). Default 1,000,000. */
  maxExamples?: number;
  /** Most messages in one `prompt` / `chosen` / `rejected` list. Default 1024. */
  maxMessages?: number;
  /**
   * Deepest JSON nesting of one line, checked before it is parsed (ignored keys included). Default
   * 64: a conversation with tool calls nests about 8 deep, and `JSON.parse` spends seconds on a
   * line nested a million deep.
   */
  maxDepth?: number;
}

/** The limits in force when an option is left out (see {@link JsonlLimits}). */
export const DEFAULT_JSONL_LIMITS: Readonly<Required<JsonlLimits>> = Object.freeze({
  maxBytes: 128 * 1024 * 1024,
  maxLineBytes: 4 * 1024 * 1024,
  maxExamples: 1_000_000,
  maxMessages: 1024,
  maxDepth: 64,
});

/** What {@link parsePreferenceJsonl} returns: the examples, all in one format. */
export interface PreferenceJsonl {
  examples: PreferenceExample[];
  format: PreferenceFormat;
}

/** Resolves and checks the limits (positive integers). */
export function resolveJsonlLimits(limits: JsonlLimits | undefined, where: string): Required<JsonlLimits> {
  const out = { ...DEFAULT_JSONL_LIMITS };
  for (const key of Object.keys(DEFAULT_JSONL_LIMITS) as (keyof JsonlLimits)[]) {
    const v = limits?.[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw argumentError('INVALID_OPTION', where, key, 'a positive integer', String(v));
    }
    out[key] = v;
  }
  return out;
}

const encoder = new TextEncoder();
/** UTF-8 length of `s` without encoding it when the UTF-16 length already decides. */
function exceedsBytes(s: string, max: number): number | null {
  if (s.length > max) return s.length; // every UTF-16 unit is ≥ 1 UTF-8 byte
  if (s.length * 3 <= max) return null; // every UTF-16 unit is ≤ 3 UTF-8 bytes
  const n = encoder.encode(s).length;
  return n > max ? n : null;
}

/**
 * Parses preference data in the JSON Lines layout TRL users keep (one JSON object per line, as
 * `datasets.load_dataset("json", ...)` reads it): `{"prompt", "chosen", "rejected"}` with plain text
 * or with lists of `{"role", "content"}` messages, the prompt explicit or implicit (shared by
 * `chosen` and `rejected`, then extracted as TRL's `maybe_extract_prompt` does). Blank lines are
 * skipped; a leading UTF-8 BOM and `\r\n` line ends are accepted.
 *
 * Every example must have the first example's format (TRL decides the format of a dataset from its
 * first example).
 *
 * @param source - the file's text, or its bytes (decoded as strict UTF-8).
 * @param limits - size limits; see {@link JsonlLimits} for the defaults.
 * @throws GanpoError `OUT_OF_RANGE` (a limit), `INVALID_FORMAT` (bad UTF-8, bad JSON, a missing key, a
 *   wrong type, mixed formats), with the 1-based `line` in the message and in `error.line`.
 */
export function parsePreferenceJsonl(source: string | Uint8Array, limits?: JsonlLimits): PreferenceJsonl {
  const where = 'parsePreferenceJsonl';
  const lim = resolveJsonlLimits(limits, where);
  let text: string;
  if (source instanceof Uint8Array) {
    if (source.byteLength > lim.maxBytes) {
      throw argumentError(
        'OUT_OF_RANGE',
        where,
        'source',
        `at most ${lim.maxBytes} bytes`,
        `${source.byteLength}`,
      );
    }
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(source);
    } catch {
      throw argumentError('INVALID_FORMAT', where, 'source', 'UTF-8 text', 'invalid UTF-8 bytes');
    }
  } else if (typeof source === 'string') {
    const n = exceedsBytes(source, lim.maxBytes);
    if (n !== null)
      throw argumentError('OUT_OF_RANGE', where, 'source', `at most ${lim.maxBytes} bytes`, `${n}`);
    text = source;
  } else {
    throw argumentError('INVALID_ARGUMENT', where, 'source', 'a string or a Uint8Array', typeof source);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);

  const examples: PreferenceExample[] = [];
  let format: PreferenceFormat | null = null;
  let first: { line: number; shapes: Record<string, 'text' | 'messages'> } | null = null;
  let start = 0;
  for (let line = 1; start <= text.length; line++) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const raw = text.slice(start, end > start && text[end - 1] === '\r' ? end - 1 : end);
    start = end + 1;
    if (raw.trim() === '') continue;
    const at = `preference data, line ${line}`;
    const bytes = exceedsBytes(raw, lim.maxLineBytes);
    if (bytes !== null) {
      throw lineError('OUT_OF_RANGE', at, 'line', `at most ${lim.maxLineBytes} bytes`, `${bytes}`, line);
    }
    if (examples.length === lim.maxExamples) {
      throw lineError('OUT_OF_RANGE', at, 'source', `at most ${lim.maxExamples} examples`, 'more', line);
    }
    const { record, keys } = readRecordLine(raw, lim.maxDepth, (kind, reason) =>
      kind === 'depth'
        ? lineError(
            'OUT_OF_RANGE',
            at,
            'line',
            `JSON nested at most ${lim.maxDepth} levels deep`,
            reason,
            line,
          )
        : lineError('INVALID_FORMAT', at, 'line', 'one JSON object', `invalid JSON (${reason})`, line),
    );
    const complete =
      record === null ||
      typeof record !== 'object' ||
      Array.isArray(record) ||
      ('chosen' in record && 'rejected' in record);
    // A record missing a field is refused naming the keys it has: only then are they all given.
    const checked = complete ? record : { ...Object.fromEntries(keys.map((k) => [k, null])), ...record };
    const example = toPreferenceExample(checked, line, lim.maxMessages);
    const kind: PreferenceFormat = typeof example.chosen === 'string' ? 'standard' : 'conversational';
    if (format === null) {
      format = kind;
      first = { line, shapes: fieldShapes(record) };
    } else if (kind !== format) {
      // Name the first field (in this line's key order) whose shape differs from the first example's.
      const shapes = fieldShapes(record);
      const ref = first?.shapes ?? {};
      const key = Object.keys(shapes).find((k) => ref[k] !== undefined && ref[k] !== shapes[k]) ?? 'chosen';
      throw lineError(
        'INVALID_FORMAT',
        at,
        key,
        `${ref[key] ?? (format === 'standard' ? 'text' : 'messages')}, as in line ${first?.line} (the ${format} format of the first example)`,
        shapes[key] ?? (kind === 'standard' ? 'text' : 'messages'),
        line,
      );
    }
    examples.push(example);
  }
  if (format === null) {
    throw new GanpoError(
      'INVALID_FORMAT',
      `${where}: 'source' expected at least one example, received none`,
      {
        argument: 'source',
        expected: 'at least one example',
        received: 'none',
      },
    );
  }
  return { examples, format };
}

/** Text or messages, per TRL field of a record, in the record's key order (other keys left out). */
function fieldShapes(record: unknown): Record<string, 'text' | 'messages'> {
  const out: Record<string, 'text' | 'messages'> = {};
  if (record === null || typeof record !== 'object') return out;
  for (const [k, v] of Object.entries(record)) {
    if (k !== 'prompt' && k !== 'chosen' && k !== 'rejected') continue;
    if (typeof v === 'string') out[k] = 'text';
    else if (Array.isArray(v)) out[k] = 'messages';
  }
  return out;
}
