import type * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertDtype, assertFinite, assertRank, assertSameLength, checksShapes } from '../core/validate';

/**
 * Internal: validates a set of per-pair inputs — each a float32 rank-1 tensor [B], all of the same
 * length B ≥ 1, finite. `undefined` entries are skipped (optional inputs).
 */
export function validatePairInputs(
  where: string,
  entries: readonly [string, tf.Tensor | undefined][],
  dtypes: readonly tf.DataType[] = ['float32'],
  /** The first entry was validated already and only anchors the length (no second data read). */
  firstIsAnchor = false,
): void {
  const present = entries.filter((e): e is [string, tf.Tensor] => e[1] !== undefined);
  const own = firstIsAnchor ? present.slice(1) : present;
  for (const [name, t] of own) {
    assertRank(where, name, t, 1);
    assertDtype(where, name, t, dtypes);
  }
  assertSameLength(where, present);
  const first = present[0];
  if (first && checksShapes() && first[1].shape[0] < 1) {
    throw argumentError('SHAPE_MISMATCH', where, first[0], 'a batch of at least 1 pair', 'length 0');
  }
  for (const [name, t] of own) assertFinite(where, name, t);
}
