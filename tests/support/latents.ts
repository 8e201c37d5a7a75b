import * as tf from '@tensorflow/tfjs-core';
import type { LatentBatch } from 'ganpo';

/**
 * Seeded N(0, 1) latents of shape [batch, time, width], float32. tfjs draws seeded normals in
 * JavaScript, so every backend gets the same values.
 */
export function randomLatents(seed: number, batch: number, time: number, width: number): tf.Tensor3D {
  return tf.randomNormal([batch, time, width], 0, 1, 'float32', seed) as tf.Tensor3D;
}

/** Shape, seed and masks of {@link randomLatentBatch}. */
export interface RandomLatentBatchOptions {
  /** Seed of the policy's chosen latents; the other three sets take seed + 1, + 2, + 3. Default 1. */
  seed?: number;
  batch: number;
  /** Sequence length of the chosen latents. */
  time: number;
  /** Sequence length of the rejected latents. Default `time`. */
  rejectedTime?: number;
  width: number;
  chosenMask?: tf.Tensor2D;
  rejectedMask?: tf.Tensor2D;
}

/**
 * A `LatentBatch` of seeded N(0, 1) latents, drawn in the order policy chosen, policy rejected,
 * reference chosen, reference rejected (seeds seed … seed + 3); masks given are passed through. The
 * caller disposes the tensors (`tf.dispose(Object.values(batch))`).
 */
export function randomLatentBatch(options: RandomLatentBatchOptions): LatentBatch {
  const { seed = 1, batch, time, rejectedTime = time, width, chosenMask, rejectedMask } = options;
  return {
    policyChosenLatents: randomLatents(seed, batch, time, width),
    policyRejectedLatents: randomLatents(seed + 1, batch, rejectedTime, width),
    referenceChosenLatents: randomLatents(seed + 2, batch, time, width),
    referenceRejectedLatents: randomLatents(seed + 3, batch, rejectedTime, width),
    ...(chosenMask ? { chosenMask } : {}),
    ...(rejectedMask ? { rejectedMask } : {}),
  };
}
