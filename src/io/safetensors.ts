import * as tf from '@tensorflow/tfjs-core';
import { GanpoError } from '../core/errors';

/**
 * Largest header accepted, 100 MB: the limit of the reference `safetensors` implementation, which
 * refuses bigger headers so a hostile length cannot make the reader allocate gigabytes.
 */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

const READ = 'readSafetensors';
const WRITE = 'writeSafetensors';

type StDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I32' | 'I64';
const ITEM_SIZE: Record<StDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I32: 4, I64: 8 };

function bad(where: string, expected: string, received: string, argument = 'bytes'): GanpoError {
  return new GanpoError(
    'INVALID_FORMAT',
    `${where}: '${argument}' expected ${expected}, received ${received}`,
    {
      argument,
      expected,
      received,
    },
  );
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

interface Entry {
  name: string;
  dtype: StDtype;
  shape: number[];
  start: number;
  end: number;
}

/**
 * Parses a safetensors file (https://github.com/huggingface/safetensors: u64-LE header length, JSON
 * header `{name: {dtype, shape, data_offsets}}`, raw little-endian data) into tensors, e.g. a
 * discriminator checkpoint saved by PyTorch for `loadStateDict`.
 *
 * dtypes: F32, F64, F16 and BF16 become float32; I32 becomes int32; I64 becomes int32 (tfjs has no
 * int64) and throws `OUT_OF_RANGE` naming the tensor when a value does not fit. `__metadata__` is ignored.
 *
 * @param bytes - the whole file.
 * @returns name → tensor (caller disposes).
 * @throws GanpoError('INVALID_FORMAT') for a short buffer, a header length beyond the buffer or over
 *   {@link SAFETENSORS_MAX_HEADER_BYTES}, invalid JSON, unknown dtypes, bad shapes or offsets.
 *
 * @example
 * ```ts
 * const bytes = new Uint8Array(await (await fetch('d_chosen.safetensors')).arrayBuffer());
 * const state = readSafetensors(bytes); // { 'project_in.weight_orig': tf.Tensor, … }
 * disc.loadStateDict(state);
 * tf.dispose(Object.values(state));
 * ```
 */
export function readSafetensors(bytes: Uint8Array | ArrayBuffer): Record<string, tf.Tensor> {
  const buf = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
  if (!(buf instanceof Uint8Array)) throw bad(READ, 'a Uint8Array or ArrayBuffer', typeof bytes);
  if (buf.byteLength < 8)
    throw bad(READ, 'at least 8 bytes (the header length)', `${buf.byteLength} byte(s)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    throw bad(READ, `a header of at most ${SAFETENSORS_MAX_HEADER_BYTES} bytes`, `a header length of ${n}`);
  }
  const headerLen = Number(n);
  if (8 + headerLen > buf.byteLength) {
    throw bad(READ, `${headerLen} header bytes`, `a truncated file of ${buf.byteLength} bytes`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw bad(READ, 'a JSON header', `unparseable JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw bad(READ, 'a JSON object header', Array.isArray(header) ? 'an array' : String(header));
  }
  const dataStart = 8 + headerLen;
  const dataLen = buf.byteLength - dataStart;
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const i = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (i === null || typeof i !== 'object') throw bad(READ, 'a tensor entry object', String(i), name);
    if (typeof i.dtype !== 'string' || !(i.dtype in ITEM_SIZE)) {
      throw bad(READ, `a dtype in ${Object.keys(ITEM_SIZE).join('|')}`, String(i.dtype), name);
    }
    const dtype = i.dtype as StDtype;
    const shape = i.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw bad(READ, 'a shape of non-negative integers', JSON.stringify(shape), name);
    }
    const off = i.data_offsets;
    if (
      !Array.isArray(off) ||
      off.length !== 2 ||
      !off.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      (off[0] as number) > (off[1] as number)
    ) {
      throw bad(READ, 'data_offsets [begin, end]', JSON.stringify(off), name);
    }
    const [start, end] = off as [number, number];
    if (end > dataLen)
      throw bad(READ, `data within the ${dataLen} data bytes`, `end offset ${end} (truncated)`, name);
    const count = shape.reduce((a: number, b: number) => a * b, 1);
    if (end - start !== count * ITEM_SIZE[dtype]) {
      throw bad(
        READ,
        `${count * ITEM_SIZE[dtype]} bytes for ${dtype} [${shape.join(',')}]`,
        `${end - start}`,
        name,
      );
    }
    entries.push({ name, dtype, shape, start: dataStart + start, end: dataStart + end });
  }
  // Decode everything before creating any tensor, so a bad entry leaves nothing behind.
  const decoded = entries.map((e) => ({ e, values: decode(buf, view, e) }));
  const out: Record<string, tf.Tensor> = {};
  for (const { e, values } of decoded)
    out[e.name] = tf.tensor(values, e.shape, values instanceof Int32Array ? 'int32' : 'float32');
  return out;
}

function decode(buf: Uint8Array, view: DataView, e: Entry): Float32Array | Int32Array {
  const count = (e.end - e.start) / ITEM_SIZE[e.dtype];
  switch (e.dtype) {
    case 'F32': {
      // Copy: the data may be unaligned for a Float32Array view.
      return new Float32Array(buf.slice(e.start, e.end).buffer);
    }
    case 'F64': {
      const out = new Float32Array(count);
      for (let k = 0; k < count; k++) out[k] = view.getFloat64(e.start + 8 * k, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(count);
      for (let k = 0; k < count; k++) out[k] = f16ToF32(view.getUint16(e.start + 2 * k, true));
      return out;
    }
    case 'BF16': {
      const bits = new Uint32Array(count);
      for (let k = 0; k < count; k++) bits[k] = view.getUint16(e.start + 2 * k, true) << 16;
      return new Float32Array(bits.buffer);
    }
    case 'I32': {
      const out = new Int32Array(count);
      for (let k = 0; k < count; k++) out[k] = view.getInt32(e.start + 4 * k, true);
      return out;
    }
    case 'I64': {
      const out = new Int32Array(count);
      for (let k = 0; k < count; k++) {
        const v = view.getBigInt64(e.start + 8 * k, true);
        if (v > 2147483647n || v < -2147483648n) {
          throw new GanpoError(
            'OUT_OF_RANGE',
            `${READ}: '${e.name}' expected I64 values within int32 (tfjs has no int64), received ${v}`,
            { argument: e.name, expected: 'values within int32', received: String(v) },
          );
        }
        out[k] = Number(v);
      }
      return out;
    }
  }
}

/**
 * Serialises tensors as a safetensors file that PyTorch (`safetensors.torch.load_file`) reads:
 * float tensors as F32, int32 as I32, keys sorted, header padded with spaces to 8 bytes.
 *
 * @param tensors - name → tensor (not disposed).
 * @param metadata - optional string map stored under `__metadata__` (e.g. `{ format: 'pt' }`).
 * @returns the file bytes.
 *
 * @example
 * ```ts
 * const state = disc.stateDict();
 * const bytes = writeSafetensors(state, { format: 'pt' }); // safetensors.torch.load_file reads it
 * tf.dispose(Object.values(state));
 * ```
 */
export function writeSafetensors(
  tensors: Record<string, tf.Tensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  if (tensors === null || typeof tensors !== 'object') {
    throw new GanpoError('INVALID_ARGUMENT', `${WRITE}: 'tensors' expected a Record<string, tf.Tensor>`, {
      argument: 'tensors',
      expected: 'a Record<string, tf.Tensor>',
      received: String(tensors),
    });
  }
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    if (!(t instanceof tf.Tensor) || t.isDisposed) {
      // Never String() a disposed tensor: its toString reads the data and throws.
      const received = t instanceof tf.Tensor ? 'a disposed tensor' : typeof t;
      throw new GanpoError(
        'INVALID_ARGUMENT',
        `${WRITE}: '${name}' expected a live tf.Tensor, received ${received}`,
        {
          argument: name,
          expected: 'a live tf.Tensor',
          received,
        },
      );
    }
    if (name === '__metadata__') {
      throw new GanpoError('INVALID_ARGUMENT', `${WRITE}: '__metadata__' is reserved, received a tensor`, {
        argument: name,
        expected: 'another name',
        received: '__metadata__',
      });
    }
    const isInt = t.dtype === 'int32' || t.dtype === 'bool';
    const data = isInt
      ? Int32Array.from(t.dataSync() as ArrayLike<number>)
      : Float32Array.from(t.dataSync() as ArrayLike<number>);
    // Typed arrays are platform-endian; every supported JS platform is little-endian, as the format requires.
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    header[name] = {
      dtype: isInt ? 'I32' : 'F32',
      shape: t.shape,
      data_offsets: [offset, offset + bytes.byteLength],
    };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  if (metadata) header.__metadata__ = metadata;
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  while (enc.encode(json).byteLength % 8 !== 0) json += ' ';
  const head = enc.encode(json);
  const out = new Uint8Array(8 + head.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.byteLength), true);
  out.set(head, 8);
  let p = 8 + head.byteLength;
  for (const c of chunks) {
    out.set(c, p);
    p += c.byteLength;
  }
  return out;
}
