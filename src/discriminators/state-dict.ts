import * as tf from '@tensorflow/tfjs-core';
import { GanpoError } from '../core/errors';
import { fmtShape } from '../core/validate';
import type { StateSpec } from './layers';

/**
 * Checks `state` against `specs` and, only if everything is acceptable, copies it in. Strict: a
 * missing or unexpected key throws; a mis-shaped or non-tensor value always throws. Nothing is
 * assigned when anything is wrong.
 */
export function loadStateInto(
  where: string,
  specs: StateSpec[],
  state: Record<string, tf.Tensor>,
  strict: boolean,
): void {
  if (state === null || typeof state !== 'object') {
    throw new GanpoError('INVALID_ARGUMENT', `${where}: 'state' expected a Record<string, tf.Tensor>`, {
      argument: 'state',
      expected: 'a Record<string, tf.Tensor>',
      received: String(state),
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
    const t = state[spec.key];
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
        t instanceof tf.Tensor ? 'a disposed tensor' : typeof t,
      );
    }
    if (t.rank !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
      throw mismatch(where, spec.key, `shape ${fmtShape(spec.shape)}`, `shape ${fmtShape(t.shape)}`);
    }
    if (t.dtype !== 'float32' && t.dtype !== 'int32') {
      throw mismatch(where, spec.key, 'a float32 tensor', `dtype ${t.dtype}`);
    }
    present.push([spec, t]);
  }
  for (const [spec, t] of present) tf.tidy(() => spec.assign(tf.cast(t, 'float32')));
}

function mismatch(where: string, key: string, expected: string, received: string): GanpoError {
  return new GanpoError(
    'STATE_DICT_MISMATCH',
    `${where}: state-dict key '${key}' expected ${expected}, received ${received}`,
    { argument: key, expected, received },
  );
}
