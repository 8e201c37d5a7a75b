import { argumentError, type GanpoError } from '../core/errors';
import { type HeaderJsonBounds, readHeaderJson } from './safetensors-json';

/**
 * Largest header accepted, 25 MB: the limit of the Hugging Face Hub's own header reader
 * (`huggingface_hub.constants.SAFETENSORS_MAX_HEADER_LENGTH`, used by `get_safetensors_metadata`);
 * the reference `safetensors` implementation allows 100 MB (`MAX_HEADER_SIZE`). A header of the
 * most tensors accepted (32 768) takes about 3 MB, so no file ganpo or PyTorch writes
 * comes near, and parsing the largest accepted header stays under about 100 MB.
 */
export const SAFETENSORS_MAX_HEADER_BYTES = 25_000_000;

/**
 * Deepest JSON nesting accepted in a header: 3 (the header object, a tensor entry, its `shape` /
 * `data_offsets` array). The format needs no more; deeper text is refused where it is met.
 */
export const SAFETENSORS_MAX_DEPTH = 3;

/**
 * Largest tensor rank accepted: 16. PyTorch allows up to 64 dimensions, but no checkpoint tensor
 * comes near, and each dimension costs tfjs bookkeeping per tensor.
 */
export const SAFETENSORS_MAX_RANK = 16;

/**
 * Most tensors in one header: 2¹⁵ = 32 768. Each tensor costs tfjs about 1.5 KB and 25 µs whatever
 * its size, so without a bound a 100 MB header of zero-size tensors would cost gigabytes and a
 * minute; at this bound the worst accepted header costs about 50 MB and well under a second
 * (docs/security.md). The largest single-file LLM checkpoints hold about 1 000 tensors; a reference
 * cache holds 2 per pair with latents.
 */
export const SAFETENSORS_MAX_TENSORS = 2 ** 15;

/**
 * What the header's JSON may hold, refused where it is passed: the format's 3 levels, at most
 * {@link SAFETENSORS_MAX_TENSORS} tensor entries (plus `__metadata__`) and metadata keys, arrays of at
 * most 64 items (PyTorch's largest rank; ranks over {@link SAFETENSORS_MAX_RANK} are then refused
 * naming the tensor), and 8 keys per entry (3 are used; others are skipped, as by the reference
 * implementation).
 */
export const SAFETENSORS_HEADER_BOUNDS: Readonly<HeaderJsonBounds> = Object.freeze({
  maxDepth: SAFETENSORS_MAX_DEPTH,
  maxEntries: SAFETENSORS_MAX_TENSORS,
  maxItems: 64,
  maxEntryKeys: 8,
});

/** Whether `shape` is a tensor shape a loader accepts: at most {@link SAFETENSORS_MAX_RANK} non-negative safe integers. */
export function isAcceptedShape(shape: unknown): shape is number[] {
  return (
    Array.isArray(shape) &&
    shape.length <= SAFETENSORS_MAX_RANK &&
    shape.every((d) => Number.isSafeInteger(d) && d >= 0)
  );
}

/**
 * The number of elements of an accepted `shape`, or `Infinity` once it exceeds `limit`: the
 * product is never formed past the limit, so `[1e9, 1e9, 1e9]` neither overflows nor allocates.
 * A zero anywhere gives 0.
 */
export function elementCount(shape: readonly number[], limit: number): number {
  if (shape.includes(0)) return 0;
  let count = 1;
  for (const d of shape) {
    count *= d;
    if (count > limit) return Number.POSITIVE_INFINITY;
  }
  return count;
}

/** Dtypes the reader understands and their sizes in bytes. */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I32' | 'I64';
export const ITEM_SIZE: Readonly<Record<SafetensorsDtype, number>> = Object.freeze({
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I32: 4,
  I64: 8,
});

/** One tensor of a parsed header; `start`/`end` are absolute byte offsets in the file. */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  start: number;
  end: number;
}

/** Names no tensor may have: `__proto__` would replace the prototype of a plain object it is copied into. */
export const FORBIDDEN_NAMES: ReadonlySet<string> = new Set(['__proto__']);

/** An `INVALID_FORMAT` error naming `argument` (the buffer, or the tensor at fault). */
export function formatError(
  where: string,
  expected: string,
  received: string,
  argument = 'bytes',
): GanpoError {
  return argumentError('INVALID_FORMAT', where, argument, expected, received);
}

function own(o: object, key: string): unknown {
  return Object.hasOwn(o, key) ? (o as Record<string, unknown>)[key] : undefined;
}

/**
 * The header length from a file's first 8 bytes, checked against the limit and the file size
 * before any header byte is read (an empty header is refused too).
 */
export function headerLength(where: string, first: Uint8Array, fileBytes: number): number {
  if (fileBytes < 8 || first.byteLength < 8) {
    throw formatError(where, 'at least 8 bytes (the header length)', `${fileBytes} byte(s)`);
  }
  const n = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    throw formatError(
      where,
      `a header of at most ${SAFETENSORS_MAX_HEADER_BYTES} bytes`,
      `a header length of ${n}`,
    );
  }
  const headerLen = Number(n);
  if (8 + headerLen > fileBytes) {
    throw formatError(where, `${headerLen} header bytes`, `a truncated file of ${fileBytes} bytes`);
  }
  if (headerLen === 0) throw formatError(where, "a JSON header starting with '{'", 'an empty header');
  return headerLen;
}

/** Refuses a header that does not start with `{` (the reference implementation's first check). */
export function checkHeaderStart(where: string, firstByte: number | undefined): void {
  if (firstByte !== 0x7b) throw formatError(where, "a JSON header starting with '{'", 'another start');
}

/**
 * Parses and validates a safetensors header the way the reference implementation does
 * (`SafeTensors::read_metadata` / `Metadata::validate`), before any tensor data is touched:
 * a u64-LE length within {@link SAFETENSORS_MAX_HEADER_BYTES} and the buffer, a JSON object that
 * starts with `{`, within {@link SAFETENSORS_HEADER_BOUNDS} (nesting, tensor count, array lengths,
 * values: checked before `JSON.parse`), no duplicate keys, `__metadata__`
 * a string → string map, every entry a known dtype, a shape of non-negative integers whose
 * element count matches its byte range, and byte ranges that tile the data section exactly (no
 * gap, no overlap, nothing left over).
 *
 * @returns the entries in data order and the metadata map (both with null prototypes).
 */
export function parseSafetensorsHeader(
  where: string,
  buf: Uint8Array,
): { entries: SafetensorsEntry[]; metadata: Record<string, string> } {
  const headerLen = headerLength(where, buf.subarray(0, 8), buf.byteLength);
  return parseHeaderBytes(where, buf.subarray(8, 8 + headerLen), buf.byteLength - 8 - headerLen);
}

/**
 * {@link parseSafetensorsHeader} on the header's bytes alone (the bytes after the 8-byte length),
 * for a file of `dataLen` data bytes after them: a reader checks the header before reading the data.
 */
export function parseHeaderBytes(
  where: string,
  headerBytes: Uint8Array,
  dataLen: number,
): { entries: SafetensorsEntry[]; metadata: Record<string, string> } {
  checkHeaderStart(where, headerBytes[0]);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw formatError(where, 'a UTF-8 header', 'invalid UTF-8 bytes');
  }
  const header = readHeaderJson(text, SAFETENSORS_HEADER_BOUNDS, (kind, reason) =>
    kind === 'json'
      ? formatError(where, 'a JSON header', `unparseable JSON (${reason})`)
      : formatError(where, `a header within its bounds`, reason),
  );
  const base = 8 + headerBytes.byteLength;
  const metadata: Record<string, string> = Object.create(null);
  if (header.metadata !== undefined) {
    if (!(header.metadata instanceof Map)) {
      throw formatError(where, 'a string → string map', describe(header.metadata), '__metadata__');
    }
    for (const [key, value] of header.metadata) {
      if (typeof value !== 'string' || FORBIDDEN_NAMES.has(key)) {
        throw formatError(
          where,
          'string values under string keys',
          `key '${key.slice(0, 40)}' with a ${describe(value)}`,
          '__metadata__',
        );
      }
      metadata[key] = value;
    }
  }
  const entries = header.entries.map(({ name, info }) => parseEntry(where, name, info, dataLen, base));
  checkTiling(where, entries, dataLen, base);
  return { entries, metadata };
}

/** The kind of a value read from a header, for messages. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'array' : typeof value;
}

function parseEntry(
  where: string,
  name: string,
  info: unknown,
  dataLen: number,
  base: number,
): SafetensorsEntry {
  if (FORBIDDEN_NAMES.has(name)) throw formatError(where, 'another tensor name', `'${name}'`, name);
  if (info === null || typeof info !== 'object' || Array.isArray(info)) {
    throw formatError(where, 'a tensor entry object', describe(info), name);
  }
  const dtype = own(info, 'dtype');
  if (typeof dtype !== 'string' || !Object.hasOwn(ITEM_SIZE, dtype)) {
    throw formatError(
      where,
      `a dtype in ${Object.keys(ITEM_SIZE).join('|')}`,
      String(dtype).slice(0, 40),
      name,
    );
  }
  const item = ITEM_SIZE[dtype as SafetensorsDtype];
  const shape = own(info, 'shape');
  if (!isAcceptedShape(shape)) {
    throw formatError(
      where,
      `a shape of at most ${SAFETENSORS_MAX_RANK} non-negative integers`,
      JSON.stringify(shape)?.slice(0, 80) ?? 'undefined',
      name,
    );
  }
  const off = own(info, 'data_offsets');
  if (
    !Array.isArray(off) ||
    off.length !== 2 ||
    !off.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    (off[0] as number) > (off[1] as number)
  ) {
    throw formatError(
      where,
      'data_offsets [begin, end]',
      JSON.stringify(off)?.slice(0, 80) ?? 'undefined',
      name,
    );
  }
  const [start, end] = off as [number, number];
  if (end > dataLen) {
    throw formatError(where, `data within the ${dataLen} data bytes`, `end offset ${end} (truncated)`, name);
  }
  // The element count can only be as large as the bytes present, so stop multiplying once it is not.
  const count = elementCount(shape as number[], dataLen / item);
  if (count * item !== end - start) {
    throw formatError(
      where,
      `${end - start} bytes to match ${dtype} ${JSON.stringify(shape)}`,
      `${end - start}`,
      name,
    );
  }
  return {
    name,
    dtype: dtype as SafetensorsDtype,
    shape: [...(shape as number[])],
    start: base + start,
    end: base + end,
  };
}

/** The reference implementation's rule: sorted by offset, each tensor starts where the previous ends. */
function checkTiling(where: string, entries: SafetensorsEntry[], dataLen: number, base: number): void {
  entries.sort((a, b) => a.start - b.start || a.end - b.end);
  let at = base;
  for (const e of entries) {
    if (e.start !== at) {
      throw formatError(
        where,
        `data starting at offset ${at - base} (no gap, no overlap)`,
        `offset ${e.start - base} (${e.start > at ? 'a gap' : 'an overlap'})`,
        e.name,
      );
    }
    at = e.end;
  }
  if (at !== base + dataLen) {
    throw formatError(where, `tensors covering all ${dataLen} data bytes`, `${at - base} byte(s) covered`);
  }
}
