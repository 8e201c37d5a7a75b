import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import {
  assertDtype,
  assertFinite,
  assertNumber,
  assertRank,
  assertTensor,
  checksShapes,
} from '../core/validate';
import { stopGradient } from '../ops/stop-gradient';

/** A set mean given by the caller: a plain number or a scalar tensor. Treated as a constant. */
export type MeanLike = number | tf.Scalar;

/** Validates discriminator scores: a non-empty float rank-1 tensor [B] with finite values. */
export function checkScores(where: string, name: string, x: unknown): asserts x is tf.Tensor1D {
  assertTensor(where, name, x);
  assertRank(where, name, x, 1);
  assertDtype(where, name, x, ['float32']);
  if (checksShapes() && x.size === 0) {
    throw argumentError('SHAPE_MISMATCH', where, name, 'at least one score [B], B >= 1', 'shape [0]');
  }
  assertFinite(where, name, x);
}

/** Validates an optional mean: undefined, a finite number, or a finite float scalar tensor. */
export function checkMean(where: string, name: string, m: unknown): void {
  if (m === undefined) return;
  if (typeof m === 'number') {
    assertNumber(where, name, m);
    return;
  }
  assertTensor(where, name, m);
  if (checksShapes() && m.rank !== 0) {
    throw argumentError(
      'SHAPE_MISMATCH',
      where,
      name,
      'a number or a scalar tensor',
      `rank ${m.rank} tensor`,
    );
  }
  assertDtype(where, name, m, ['float32']);
  assertFinite(where, name, m);
}

/**
 * The mean to subtract: the given one as a constant (no gradient flows into a given scalar, as in
 * PyTorch's `.detach()`), else the batch mean of `scores` with gradient (AlexiaJM's RaGAN losses
 * do not detach the batch means). Call inside a tidy.
 */
export function resolveMean(given: MeanLike | undefined, scores: tf.Tensor): tf.Tensor {
  if (given === undefined) return tf.mean(scores);
  if (typeof given === 'number') return tf.scalar(given);
  return stopGradient(given);
}
