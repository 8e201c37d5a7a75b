import type * as tf from '@tensorflow/tfjs-core';

/** Output of every preference loss. */
export interface PreferenceLoss {
  /** Per-pair losses [B]. */ losses: tf.Tensor1D;
  /** Mean of losses, scalar. */ loss: tf.Scalar;
  /** β·(policy − reference) or the loss's own reward [B]. */ chosenRewards: tf.Tensor1D;
  rejectedRewards: tf.Tensor1D;
}
