import type * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertDtype, assertFinite, assertRank, assertSameLength, checksShapes } from '../core/validate';

/** Policy and reference summed log-probs of an unpaired batch (KTO, BCO): desirable and undesirable examples. @inline */
export interface UnpairedLogps {
  /** Policy log-probs of the desirable (label true) examples [Nc]; Nc may be 0. */
  policyChosenLogps: tf.Tensor1D;
  /** Reference log-probs of the same examples [Nc]. */
  referenceChosenLogps: tf.Tensor1D;
  /** Policy log-probs of the undesirable (label false) examples [Nr]; Nr may be 0. */
  policyRejectedLogps: tf.Tensor1D;
  /** Reference log-probs of the same examples [Nr]. */
  referenceRejectedLogps: tf.Tensor1D;
}

/**
 * Internal: validates an unpaired batch — four float32 rank-1 tensors, the chosen pair of one length
 * Nc ≥ 0, the rejected pair of one length Nr ≥ 0, Nc + Nr ≥ 1, finite values. Throws before any
 * tensor is made.
 */
export function validateUnpaired(where: string, x: UnpairedLogps): void {
  const entries: [string, tf.Tensor][] = [
    ['policyChosenLogps', x.policyChosenLogps],
    ['referenceChosenLogps', x.referenceChosenLogps],
    ['policyRejectedLogps', x.policyRejectedLogps],
    ['referenceRejectedLogps', x.referenceRejectedLogps],
  ];
  for (const [name, t] of entries) {
    assertRank(where, name, t, 1);
    assertDtype(where, name, t, ['float32']);
  }
  assertSameLength(where, entries.slice(0, 2));
  assertSameLength(where, entries.slice(2));
  if (checksShapes() && x.policyChosenLogps.shape[0] + x.policyRejectedLogps.shape[0] < 1) {
    throw argumentError(
      'SHAPE_MISMATCH',
      where,
      'policyChosenLogps',
      'at least one desirable or undesirable example',
      'length 0 for both',
    );
  }
  for (const [name, t] of entries) assertFinite(where, name, t);
}
