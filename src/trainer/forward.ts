import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../core/types';
import { causalLogProbs } from '../logprobs/sequence-log-probs';
import type { CollatedSequences } from './collate';

export type { CausalLM } from '../core/types';

/** One side of a batch through a model: what the objective, the regularizer and the metrics need. */
export interface SideOutputs {
  /** Summed completion log-probs [B]. */
  logps: tf.Tensor1D;
  /** Per-token mean completion log-probs [B]. */
  mean: tf.Tensor1D;
  /** Last hidden state [B,T,H] (the GANPO latents). */
  hidden: tf.Tensor3D;
  /** Mean logit over completion positions (TRL's `logits/*` metric), scalar. */
  logitsMean: tf.Scalar;
}

/** Runs `model` on one side of a collated batch; every returned tensor is the caller's. */
export function forwardSide(model: CausalLM, side: CollatedSequences, training: boolean): SideOutputs {
  const { logits, hidden } = model.forward(side.inputIds, { training });
  const lp = causalLogProbs({ logits, inputIds: side.inputIds, lossMask: side.completionMask });
  // TRL's logits/* metric: mean logit over completion positions (logits[:, t] scores token t+1).
  const logitsMean = tf.tidy(() => {
    const t = logits.shape[1];
    const mask = tf.slice(side.completionMask, [0, 1], [-1, t - 1]);
    const perPosition = tf.mean(tf.slice(logits, [0, 0, 0], [-1, t - 1, -1]), -1);
    return tf.div(tf.sum(tf.mul(perPosition, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
  });
  tf.dispose([logits, lp.perToken, lp.count]);
  return { logps: lp.sum, mean: lp.mean, hidden, logitsMean };
}
