import { argumentError, type GanpoError } from '../core/errors';
import { countJsonKeys, scanJson } from './json-scan';

/**
 * Largest header accepted, 100 MB: the limit of the reference `safetensors` implementation
 * (`MAX_HEADER_SIZE` in safetensors/src/tensor.rs), so a hostile length cannot make the reader
 * allocate gigabytes.
 */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/**
 * Deepest JSON nesting accepted in a header: 3 (the header object, a tensor entry, its `shape` /
 * `data_offsets` array). The format needs no more, and refusing deeper text before `JSON.parse`
 * keeps a 100 MB header of nested brackets from costing minutes and gigabytes.
 */
export const SAFETENSORS_MAX_DEPTH = 3;

/**
 * Largest tensor rank accepted: 16. PyTorch allows up to 64 dimensions, but no checkpoint tensor
 * comes near, and each dimension costs tfjs bookkeeping per tensor.
 */
export const SAFETENSORS_MAX_RANK = 16;

/** Whether `shape` is a tensor shape a loader accepts: at most {@link SAFETENSORS_MAX_RANK} non-negative safe integers. */
export function isAcceptedShape(shape: unknown): shape is number[] {
  return (
    Array.isArray(shape) &&
    shape.length <= SAFETENSORS_MAX_RANK &&
    shape.every((d) => Number.isSafeInteger(d) && d >= 0)
  );
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
 * Parses and validates a safetensors header the way the reference implementation does
 * (`SafeTensors::read_metadata` / `Metadata::validate`), before any tensor data is touched:
 * a u64-LE length within {@link SAFETENSORS_MAX_HEADER_BYTES} and the buffer, a JSON object that
 * starts with `{`, nesting within {@link SAFETENSORS_MAX_DEPTH}, no duplicate keys, `__metadata__`
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
  if (buf.byteLength < 8) {
    throw formatError(where, 'at least 8 bytes (the header length)', `${buf.byteLength} byte(s)`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    throw formatError(
      where,
      `a header of at most ${SAFETENSORS_MAX_HEADER_BYTES} bytes`,
      `a header length of ${n}`,
    );
  }
  const headerLen = Number(n);
  if (8 + headerLen > buf.byteLength) {
    throw formatError(where, `${headerLen} header bytes`, `a truncated file of ${buf.byteLength} bytes`);
  }
  const headerBytes = buf.subarray(8, 8 + headerLen);
  if (headerBytes[0] !== 0x7b) {
    throw formatError(
      where,
      "a JSON header starting with '{'",
      headerLen === 0 ? 'an empty header' : 'another start',
    );
  }
  const scannedKeys = scanJson(where, headerBytes, SAFETENSORS_MAX_DEPTH, 'bytes');
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw formatError(where, 'a JSON header', `unparseable JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw formatError(where, 'a JSON object header', Array.isArray(header) ? 'an array' : String(header));
  }
  if (countJsonKeys(header) !== scannedKeys) {
    throw formatError(where, 'a header without duplicate keys', 'a key given twice');
  }
  const dataLen = buf.byteLength - 8 - headerLen;
  const metadata: Record<string, string> = Object.create(null);
  const entries: SafetensorsEntry[] = [];
  for (const name of Object.keys(header)) {
    const info = own(header, name);
    if (name === '__metadata__') {
      if (info === null || typeof info !== 'object' || Array.isArray(info)) {
        throw formatError(where, 'a string → string map', typeof info, name);
      }
      for (const key of Object.keys(info)) {
        const value = own(info, key);
        if (typeof value !== 'string' || FORBIDDEN_NAMES.has(key)) {
          throw formatError(
            where,
            'string values under string keys',
            `key '${key}' with a ${typeof value}`,
            name,
          );
        }
        metadata[key] = value;
      }
      continue;
    }
    entries.push(parseEntry(where, name, info, dataLen, 8 + headerLen));
  }
  checkTiling(where, entries, dataLen, 8 + headerLen);
  return { entries, metadata };
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
    throw formatError(where, 'a tensor entry object', info === null ? 'null' : typeof info, name);
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
  let count = (shape as number[]).includes(0) ? 0 : 1;
  for (const d of shape as number[]) {
    if (count * item > dataLen) break;
    count *= d;
  }
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
