import * as tf from '@tensorflow/tfjs-core';
import { argumentError, GanpoError } from '../core/errors';
import { checksValues, fmtShape } from '../core/validate';
import type { StateSpec } from './layers';

/** Copies of every entry of `specs`, keyed by name (an object without prototype; caller disposes). */
export function readState(specs: readonly StateSpec[]): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = Object.create(null);
  try {
    for (const spec of specs) out[spec.key] = spec.read();
  } catch (e) {
    tf.dispose(Object.values(out));
    throw e;
  }
  return out;
}

/** Reads `{ strict }` from a `loadStateDict` options argument (undefined or null = defaults). */
export function strictOption(where: string, options: unknown): boolean {
  if (options === undefined || options === null) return true;
  if (typeof options !== 'object') {
    throw argumentError('INVALID_ARGUMENT', where, 'options', '{ strict?: boolean }', typeof options);
  }
  const strict = (options as { strict?: unknown }).strict ?? true;
  if (typeof strict !== 'boolean') {
    throw argumentError('INVALID_OPTION', where, 'strict', 'a boolean', String(strict));
  }
  return strict;
}

/**
 * Checks `state` against `specs` and, only if everything is acceptable, copies it in. Strict: a
 * missing or unexpected key throws; a mis-shaped, non-float or non-tensor value always throws; at
 * validation level `'full'` a NaN or ±Infinity value throws `NON_FINITE` (a NaN weight would break
 * the discriminator on its next step). Nothing is assigned and no tensor is left behind when
 * anything is wrong. Only own keys of `state` are read.
 */
export function loadStateInto(
  where: string,
  specs: readonly StateSpec[],
  state: Record<string, tf.Tensor>,
  strict: boolean,
): void {
  prepareStateInto(where, specs, state, strict)();
}

/**
 * All the checks of {@link loadStateInto}, changing nothing; returns the function that copies the
 * state in (valid while the given tensors are alive).
 */
export function prepareStateInto(
  where: string,
  specs: readonly StateSpec[],
  state: Record<string, tf.Tensor>,
  strict: boolean,
): () => void {
  if (state === null || typeof state !== 'object' || Array.isArray(state)) {
    throw new GanpoError('INVALID_ARGUMENT', `${where}: 'state' expected a Record<string, tf.Tensor>`, {
      argument: 'state',
      expected: 'a Record<string, tf.Tensor>',
      received: state === null ? 'null' : Array.isArray(state) ? 'an array' : typeof state,
    });
  }
  const known = new Set(specs.map((s) => s.key));
  if (strict) {
    for (const key of Object.keys(state)) {
      if (!known.has(key))
        throw mismatch(where, key, 'no such key in this discriminator', 'an unexpected key');
    }
  }
  const present: [StateSpec, tf.Tensor][] = [];
  for (const spec of specs) {
    const t: unknown = Object.hasOwn(state, spec.key)
      ? (state as Record<string, unknown>)[spec.key]
      : undefined;
    if (t === undefined) {
      if (strict)
        throw mismatch(where, spec.key, `a tensor of shape ${fmtShape(spec.shape)}`, 'a missing key');
      continue;
    }
    if (!(t instanceof tf.Tensor) || t.isDisposed) {
      throw mismatch(
        where,
        spec.key,
        `a live tensor of shape ${fmtShape(spec.shape)}`,
        t instanceof tf.Tensor ? 'a disposed tensor' : t === null ? 'null' : typeof t,
      );
    }
    if (t.rank !== spec.shape.length || t.shape.some((d: number, i: number) => d !== spec.shape[i])) {
      throw mismatch(where, spec.key, `shape ${fmtShape(spec.shape)}`, `shape ${fmtShape(t.shape)}`);
    }
    // float32 only: an int32 tensor (an I32/I64 safetensors entry) holds no weight of ours.
    if (t.dtype !== 'float32') {
      throw mismatch(where, spec.key, 'a float32 tensor', `dtype ${t.dtype}`);
    }
    present.push([spec, t]);
  }
  if (checksValues()) {
    for (const [spec, t] of present) {
      const bad = countNonFinite(t);
      if (bad > 0) {
        throw new GanpoError(
          'NON_FINITE',
          `${where}: state-dict key '${spec.key}' expected finite values, received ${bad} NaN/Infinity value(s)`,
          { argument: spec.key, expected: 'finite values', received: `${bad} NaN/Infinity value(s)` },
        );
      }
    }
  }
  return () => {
    for (const [spec, t] of present) tf.tidy(() => spec.assign(tf.clone(t)));
  };
}

/** How many values of `t` are NaN or ±Infinity (0 for int32); one scalar read-back. */
export function countNonFinite(t: tf.Tensor): number {
  if (t.dtype !== 'float32' || t.size === 0) return 0;
  const bad = tf.tidy(() => tf.sum(tf.cast(tf.logicalNot(tf.isFinite(t)), 'int32')));
  const count = bad.dataSync()[0] ?? 0;
  bad.dispose();
  return count;
}

function mismatch(where: string, key: string, expected: string, received: string): GanpoError {
  return new GanpoError(
    'STATE_DICT_MISMATCH',
    `${where}: state-dict key '${key}' expected ${expected}, received ${received}`,
    { argument: key, expected, received },
  );
}
