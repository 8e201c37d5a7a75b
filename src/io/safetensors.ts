import * as tf from '@tensorflow/tfjs-core';
import { argumentError, GanpoError } from '../core/errors';
import {
  FORBIDDEN_NAMES,
  formatError,
  ITEM_SIZE,
  parseSafetensorsHeader,
  SAFETENSORS_MAX_HEADER_BYTES,
  SAFETENSORS_MAX_RANK,
  SAFETENSORS_MAX_TENSORS,
  type SafetensorsEntry,
} from './safetensors-header';

export {
  SAFETENSORS_MAX_DEPTH,
  SAFETENSORS_MAX_HEADER_BYTES,
  SAFETENSORS_MAX_RANK,
} from './safetensors-header';

const READ = 'readSafetensors';
const WRITE = 'writeSafetensors';

/**
 * Parses a safetensors file (https://github.com/huggingface/safetensors: u64-LE header length, JSON
 * header `{name: {dtype, shape, data_offsets}}`, raw little-endian data) into tensors, e.g. a
 * discriminator checkpoint saved by PyTorch for `loadStateDict`.
 *
 * dtypes: F32, F64, F16 and BF16 become float32; I32 becomes int32; I64 becomes int32 (tfjs has no
 * int64). A value that does not fit (an I64 outside int32, a finite F64 outside float32) throws
 * `OUT_OF_RANGE` naming the tensor. `__metadata__` is checked (a string → string map) and ignored.
 *
 * The file is untrusted: the header is validated as the reference implementation does, before any
 * allocation (see `parseSafetensorsHeader`): length at most `SAFETENSORS_MAX_HEADER_BYTES` (docs/security.md),
 * nesting at most `SAFETENSORS_MAX_DEPTH`, rank at most `SAFETENSORS_MAX_RANK`, at most 32 768
 * tensors (all checked while scanning, before `JSON.parse`), no duplicate keys, no tensor named
 * `__proto__`, byte ranges that tile the data exactly. Memory used is therefore bounded by the
 * file: at most twice its size in tensor data (F16/BF16 widen to float32), plus about 1.5 KB per
 * tensor.
 *
 * @param bytes - the whole file: any `Uint8Array` view (a Node `Buffer` from `fs.readFileSync` too)
 *   or an `ArrayBuffer`.
 * @returns name → tensor, an object without prototype (caller disposes).
 * @throws GanpoError('INVALID_FORMAT') for a short buffer, a header length beyond the buffer or over
 *   the limit, invalid or too deeply nested JSON, more than 32 768 tensors, duplicate keys, unknown
 *   dtypes, bad shapes, offsets that leave a gap, overlap or run past the data; `INVALID_ARGUMENT`
 *   when `bytes` is not bytes.
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
  const buf = asBytes(READ, bytes);
  return tensorsOf(READ, buf, parseSafetensorsHeader(READ, buf).entries);
}

/**
 * The tensors of the checked `entries` of a whole file `buf` (offsets are from its start); errors
 * name `where`. Nothing is left behind on a throw.
 */
export function tensorsOf(
  where: string,
  buf: Uint8Array,
  entries: readonly SafetensorsEntry[],
): Record<string, tf.Tensor> {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  // Decode everything before creating any tensor, so a bad entry leaves nothing behind.
  const decoded = entries.map((e) => ({ e, values: decode(where, buf, view, e) }));
  const out: Record<string, tf.Tensor> = Object.create(null);
  try {
    for (const { e, values } of decoded) {
      out[e.name] = tf.tensor(values, e.shape, values instanceof Int32Array ? 'int32' : 'float32');
    }
  } catch (err) {
    tf.dispose(Object.values(out));
    throw err;
  }
  return out;
}

/**
 * Any `Uint8Array` view (a Node `Buffer` included, at any offset into its pool) or an `ArrayBuffer`,
 * as a plain `Uint8Array` over exactly those bytes: a Buffer's own `slice` shares memory, so the
 * reader must not call it.
 */
export function asBytes(where: string, bytes: unknown): Uint8Array {
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (bytes instanceof Uint8Array) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw argumentError(
    'INVALID_ARGUMENT',
    where,
    'bytes',
    'a Uint8Array or ArrayBuffer',
    bytes === null ? 'null' : typeof bytes,
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

function decode(
  where: string,
  buf: Uint8Array,
  view: DataView,
  e: SafetensorsEntry,
): Float32Array | Int32Array {
  const count = (e.end - e.start) / ITEM_SIZE[e.dtype];
  switch (e.dtype) {
    case 'F32': {
      // Copy: the data may be unaligned for a Float32Array view.
      return new Float32Array(buf.slice(e.start, e.end).buffer);
    }
    case 'F64': {
      const out = new Float32Array(count);
      for (let k = 0; k < count; k++) {
        const v = view.getFloat64(e.start + 8 * k, true);
        out[k] = v;
        // A finite F64 beyond float32's range would silently become ±Infinity.
        if (Number.isFinite(v) && !Number.isFinite(out[k] as number)) {
          throw new GanpoError(
            'OUT_OF_RANGE',
            `${where}: '${e.name}' expected F64 values within float32's range (±3.4e38), received ${v}`,
            { argument: e.name, expected: "values within float32's range", received: String(v) },
          );
        }
      }
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
            `${where}: '${e.name}' expected I64 values within int32 (tfjs has no int64), received ${v}`,
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
 * float32 tensors as F32, int32 and bool as I32, keys sorted, header padded with spaces to 8 bytes.
 * Writes only what {@link readSafetensors} accepts: string and complex tensors, a tensor named
 * `__metadata__` or `__proto__`, and metadata that is not a string → string map are refused.
 *
 * @param tensors - name → tensor (not disposed).
 * @param metadata - optional string map stored under `__metadata__` (e.g. `{ format: 'pt' }`).
 * @returns the file bytes.
 * @throws GanpoError('INVALID_ARGUMENT') for a non-object, a non-tensor or disposed value, a rank
 *   over 16, a reserved name or bad metadata; `INVALID_DTYPE` for string/complex tensors;
 *   `OUT_OF_RANGE` for more than 32 768 tensors; `INVALID_FORMAT` when the header would exceed
 *   `SAFETENSORS_MAX_HEADER_BYTES` (docs/security.md).
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
  if (tensors === null || typeof tensors !== 'object' || Array.isArray(tensors)) {
    throw invalid('tensors', 'a Record<string, tf.Tensor>', describeValue(tensors));
  }
  const names = Object.keys(tensors).sort();
  if (names.length > SAFETENSORS_MAX_TENSORS) {
    throw argumentError(
      'OUT_OF_RANGE',
      WRITE,
      'tensors',
      `at most ${SAFETENSORS_MAX_TENSORS} tensors (what readSafetensors accepts)`,
      `${names.length}`,
    );
  }
  for (const name of names) checkTensor(name, (tensors as Record<string, unknown>)[name]);
  const meta = checkMetadata(metadata);
  const header: Record<string, unknown> = Object.create(null);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors[name] as tf.Tensor;
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
  if (meta) header.__metadata__ = meta;
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  while (enc.encode(json).byteLength % 8 !== 0) json += ' ';
  const head = enc.encode(json);
  if (head.byteLength > SAFETENSORS_MAX_HEADER_BYTES) {
    throw formatError(
      WRITE,
      `a header of at most ${SAFETENSORS_MAX_HEADER_BYTES} bytes`,
      `${head.byteLength} bytes`,
      'tensors',
    );
  }
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

function invalid(argument: string, expected: string, received: string): GanpoError {
  return argumentError('INVALID_ARGUMENT', WRITE, argument, expected, received);
}

function describeValue(x: unknown): string {
  if (x === null) return 'null';
  return Array.isArray(x) ? 'an array' : typeof x;
}

function checkTensor(name: string, t: unknown): void {
  if (name === '__metadata__' || FORBIDDEN_NAMES.has(name)) {
    throw invalid(name, 'a tensor name other than __metadata__ and __proto__', `'${name}'`);
  }
  if (!(t instanceof tf.Tensor) || t.isDisposed) {
    // Never String() a disposed tensor: its toString reads the data and throws.
    throw invalid(name, 'a live tf.Tensor', t instanceof tf.Tensor ? 'a disposed tensor' : describeValue(t));
  }
  if (t.rank > SAFETENSORS_MAX_RANK) {
    throw invalid(name, `a tensor of rank at most ${SAFETENSORS_MAX_RANK}`, `rank ${t.rank}`);
  }
  if (t.dtype !== 'float32' && t.dtype !== 'int32' && t.dtype !== 'bool') {
    throw new GanpoError(
      'INVALID_DTYPE',
      `${WRITE}: '${name}' expected dtype float32, int32 or bool, received dtype ${t.dtype}`,
      { argument: name, expected: 'dtype float32, int32 or bool', received: `dtype ${t.dtype}` },
    );
  }
}

function checkMetadata(metadata: unknown): Record<string, string> | undefined {
  if (metadata === undefined) return undefined;
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw invalid('metadata', 'a string → string map', describeValue(metadata));
  }
  const out: Record<string, string> = Object.create(null);
  for (const key of Object.keys(metadata)) {
    const value = (metadata as Record<string, unknown>)[key];
    if (typeof value !== 'string' || FORBIDDEN_NAMES.has(key)) {
      throw invalid(
        'metadata',
        'string values under keys other than __proto__',
        `key '${key}' with a ${typeof value}`,
      );
    }
    out[key] = value;
  }
  return out;
}
