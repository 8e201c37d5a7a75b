import * as tf from '@tensorflow/tfjs-core';
import { causalLogProbs } from '../logprobs/sequence-log-probs';
import type { CollatedSequences } from './collate';

/**
 * What the trainer needs of a causal language model: one forward pass that returns the logits and
 * the last hidden state (GANPO's latent), and the variables to train. `logits[:, t]` predicts
 * `inputIds[:, t+1]`. Inputs are right-padded, so a causal model needs no attention mask.
 */
export interface CausalLM {
  /** One forward pass: logits [B,T,V] and last hidden state [B,T,H] of right-padded ids [B,T]. */
  forward(
    inputIds: tf.Tensor2D,
    options: { training: boolean },
  ): { logits: tf.Tensor3D; hidden: tf.Tensor3D };
  readonly trainableVariables: tf.Variable[];
  /** A deep copy with its own weights; needed only for `reference: 'copy'`. */
  clone?(): CausalLM;
  /** Frees the model's weights; called on a copy the trainer made, never on the user's models. */
  dispose?(): void;
}

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
