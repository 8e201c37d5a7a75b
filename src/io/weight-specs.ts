import type * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import {
  elementCount,
  FORBIDDEN_NAMES,
  isAcceptedShape,
  SAFETENSORS_MAX_RANK,
  SAFETENSORS_MAX_TENSORS,
} from './safetensors-header';

/** Bytes per value of the tfjs weight dtypes whose size is fixed (`string` has none). */
const DTYPE_BYTES: Readonly<Record<string, number>> = Object.freeze({
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
});

/** Bytes per value of tfjs's quantized weight encodings. */
const QUANTIZED_BYTES: Readonly<Record<string, number>> = Object.freeze({ uint8: 1, uint16: 2, float16: 2 });

/** What a weights manifest may contain. */
export interface WeightSpecRules {
  /** Accepted `dtype`s (each must have a fixed size). */
  dtypes: readonly string[];
  /** Accept tfjs's `quantization` field (uint8/uint16/float16 storage). */
  quantization: boolean;
}

function bad(where: string, argument: string, expected: string, received: string): Error {
  return argumentError('INVALID_FORMAT', where, argument, expected, received);
}

/**
 * Validates tfjs weight specs from an untrusted manifest and returns the byte length their data
 * must have, without allocating: at most 32 768 specs (the safetensors bound), each a
 * `{ name, shape, dtype }` with a unique name (never `__proto__`), a shape of at most 16
 * non-negative safe integers, an accepted fixed-size dtype. Element counts stop being multiplied
 * as soon as they exceed `availableBytes`, so a shape like [1e7, 1e7] costs nothing. The caller
 * compares the result with the bytes actually present.
 *
 * @throws GanpoError('INVALID_FORMAT') naming the offending spec.
 */
export function weightSpecsByteLength(
  where: string,
  specs: unknown,
  availableBytes: number,
  rules: WeightSpecRules,
): number {
  if (!Array.isArray(specs)) {
    throw bad(where, 'weightSpecs', 'an array of weight specs', specs === null ? 'null' : typeof specs);
  }
  if (specs.length > SAFETENSORS_MAX_TENSORS) {
    throw bad(where, 'weightSpecs', `at most ${SAFETENSORS_MAX_TENSORS} weights`, `${specs.length}`);
  }
  const seen = new Set<string>();
  let total = 0;
  specs.forEach((spec: unknown, i) => {
    const label = `weightSpecs[${i}]`;
    if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
      throw bad(where, label, 'a { name, shape, dtype } object', spec === null ? 'null' : typeof spec);
    }
    const { name, shape, dtype, quantization } = spec as Partial<tf.io.WeightsManifestEntry>;
    if (typeof name !== 'string' || FORBIDDEN_NAMES.has(name) || seen.has(name)) {
      throw bad(where, label, 'a unique string name other than __proto__', String(name).slice(0, 80));
    }
    seen.add(name);
    if (!isAcceptedShape(shape)) {
      throw bad(
        where,
        label,
        `a shape of at most ${SAFETENSORS_MAX_RANK} non-negative integers`,
        JSON.stringify(shape)?.slice(0, 80) ?? 'undefined',
      );
    }
    if (typeof dtype !== 'string' || !rules.dtypes.includes(dtype) || !Object.hasOwn(DTYPE_BYTES, dtype)) {
      throw bad(where, label, `a dtype in ${rules.dtypes.join('|')}`, String(dtype).slice(0, 40));
    }
    let item = DTYPE_BYTES[dtype] as number;
    if (quantization !== undefined) {
      const q = (quantization as { dtype?: unknown } | null)?.dtype;
      if (!rules.quantization || typeof q !== 'string' || !Object.hasOwn(QUANTIZED_BYTES, q)) {
        throw bad(
          where,
          label,
          rules.quantization ? 'quantization uint8|uint16|float16' : 'no quantization',
          'another',
        );
      }
      item = QUANTIZED_BYTES[q] as number;
    }
    total += elementCount(shape, availableBytes / item) * item;
    if (total > availableBytes) {
      throw bad(
        where,
        label,
        `weights within the ${availableBytes} bytes present`,
        `${total} bytes needed (truncated data)`,
      );
    }
  });
  return total;
}
