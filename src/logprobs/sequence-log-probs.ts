import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { tidyObject } from '../core/tidy-object';
import {
  assertArgs,
  assertBinary,
  assertDtype,
  assertFinite,
  assertRank,
  assertShape,
  assertValueRange,
  checksShapes,
  fmtShape,
} from '../core/validate';
import { maskedLabelLogProbs } from './label-log-probs';

/** Per-sequence log-probabilities of labelled tokens (output of {@link sequenceLogProbs}). */
export interface SequenceLogProbs {
  /** Σ_t perToken[b,t], [B]: the summed log-probability DPO-family losses take. */
  sum: tf.Tensor1D;
  /** sum / max(count, 1), [B]: the per-token mean SimPO, ORPO and IPO take. 0 for empty rows. */
  mean: tf.Tensor1D;
  /** Σ_t mask[b,t], [B] float32: number of scored tokens. */
  count: tf.Tensor1D;
  /** log softmax(logits[b,t])[labels[b,t]] · mask[b,t], [B,T]. */
  perToken: tf.Tensor2D;
}

/** Arguments of {@link sequenceLogProbs}. @inline */
export interface SequenceLogProbsArgs {
  /** Unnormalised scores [B,T,V], float32. Position t scores `labels[:,t]` (no shift). */
  logits: tf.Tensor3D;
  /** Token ids [B,T], int32, each in [0, V) (masked positions too: use any valid id, e.g. 0). */
  labels: tf.Tensor2D;
  /** 1 where the token counts, 0 elsewhere, [B,T] (float32, int32 or bool). */
  mask: tf.Tensor2D;
}

/** Arguments of {@link causalLogProbs}. @inline */
export interface CausalLogProbsArgs {
  /** Next-token scores [B,T,V], float32: `logits[:,t]` predicts `inputIds[:,t+1]`. */
  logits: tf.Tensor3D;
  /** The full sequence (prompt + response) [B,T], int32, values in [0, V). */
  inputIds: tf.Tensor2D;
  /** 1 on response tokens, in `inputIds` coordinates (TRL's `completion_mask`), [B,T]. */
  lossMask: tf.Tensor2D;
}

function validateMask(where: string, name: string, mask: tf.Tensor, b: number, t: number): void {
  assertShape(where, name, mask, [b, t], '[B,T]');
  assertDtype(where, name, mask, ['float32', 'int32', 'bool']);
  assertBinary(where, name, mask);
}

function validateLogits(where: string, logits: tf.Tensor): void {
  assertRank(where, 'logits', logits, 3);
  assertDtype(where, 'logits', logits, ['float32']);
  if (checksShapes() && (logits.shape[2] ?? 0) < 1) {
    throw argumentError(
      'SHAPE_MISMATCH',
      where,
      'logits',
      'a vocabulary size V >= 1',
      fmtShape(logits.shape),
    );
  }
  assertFinite(where, 'logits', logits);
}

function summarise(perToken: tf.Tensor2D, maskF: tf.Tensor2D): SequenceLogProbs {
  return tidyObject(() => {
    const sum = tf.sum(perToken, 1) as tf.Tensor1D;
    const count = tf.sum(maskF, 1) as tf.Tensor1D;
    const mean = tf.div(sum, tf.maximum(count, 1)) as tf.Tensor1D;
    return { sum, mean, count, perToken: tf.clone(perToken) };
  });
}

/**
 * Log-probabilities of given tokens under `logits`, per token and per sequence.
 *
 *     perToken[b,t] = mask[b,t] · log softmax(logits[b,t,:])[labels[b,t]]
 *     sum[b] = Σ_t perToken[b,t],  count[b] = Σ_t mask[b,t],  mean[b] = sum[b] / max(count[b], 1)
 *
 * One log-sum-exp pass over the vocabulary; a custom gradient `mask · (onehot − softmax)` that keeps
 * no [B,T,V] log-softmax alive; no `gather` on the vocabulary axis (so it trains on wasm). Masked
 * positions have exactly zero gradient; rows with no scored token give sum = mean = 0.
 * Reference: TRL `DPOTrainer.concatenated_forward` (per-token log-probs, `loss_mask`), no shift.
 *
 * @returns `{ sum [B], mean [B], count [B], perToken [B,T] }`, all owned by the caller.
 * @throws GanpoError SHAPE_MISMATCH / INVALID_DTYPE for wrong shapes or dtypes, OUT_OF_RANGE for labels
 *   outside [0, V) or a mask that is not 0/1, NON_FINITE for NaN/Inf logits.
 */
export function sequenceLogProbs(args: SequenceLogProbsArgs): SequenceLogProbs {
  validateSequenceArgs('sequenceLogProbs', args);
  const { logits, labels, mask } = args;
  return tidyObject(() => {
    const maskF = tf.cast(mask, 'float32') as tf.Tensor2D;
    const perToken = maskedLabelLogProbs(logits, labels, maskF);
    return summarise(perToken, maskF);
  });
}

/**
 * {@link sequenceLogProbs} for causal language models: `logits[:,t]` predicts `inputIds[:,t+1]`,
 * and `lossMask` marks response tokens in `inputIds` coordinates (TRL's `completion_mask`). The
 * result covers the T−1 predicted positions: `perToken` is [B,T−1], `perToken[:,t]` scoring
 * `inputIds[:,t+1]` under `lossMask[:,t+1]`.
 *
 * The shift is applied to the labels and mask, not to the logits: the kernel runs on the full
 * `logits` with the last position masked out, so no [B,T−1,V] slice is copied and the last
 * position's gradient is exactly zero.
 *
 * @returns `{ sum [B], mean [B], count [B], perToken [B,T−1] }`, owned by the caller.
 * @throws GanpoError as {@link sequenceLogProbs} (arguments named `inputIds`, `lossMask`); T must be ≥ 2.
 *
 * @example
 * ```ts
 * const { logits } = model.forward(batch.chosen.inputIds, { training: true });
 * const { sum } = causalLogProbs({ logits, inputIds: batch.chosen.inputIds, lossMask: batch.chosen.completionMask });
 * ```
 */
export function causalLogProbs(args: CausalLogProbsArgs): SequenceLogProbs {
  validateSequenceArgs('causalLogProbs', args);
  const { logits, inputIds, lossMask } = args;
  const [b, t] = logits.shape as [number, number, number];
  return tidyObject(() => {
    // An empty batch: nothing to gather (the label gather cannot run on zero rows).
    if (b === 0) {
      const none = tf.zeros([0, Math.max(t - 1, 0)]) as tf.Tensor2D;
      return summarise(none, none);
    }
    const { labels, shiftedMask } = shiftForCausal(inputIds, lossMask);
    const full = maskedLabelLogProbs(logits, labels, shiftedMask);
    const perToken = tf.slice(full, [0, 0], [b, t - 1]) as tf.Tensor2D;
    return summarise(perToken, tf.slice(shiftedMask, [0, 0], [b, t - 1]) as tf.Tensor2D);
  });
}

/**
 * Internal: next-token labels and mask in logits coordinates. Position t gets `inputIds[:,t+1]` and
 * `lossMask[:,t+1]`; the last position gets label 0 and mask 0.
 */
export function shiftForCausal(
  inputIds: tf.Tensor2D,
  lossMask: tf.Tensor2D,
): { labels: tf.Tensor2D; shiftedMask: tf.Tensor2D } {
  const [b, t] = inputIds.shape;
  return tidyObject(() => {
    const labels = tf.concat(
      [tf.slice(inputIds, [0, 1], [b, t - 1]), tf.zeros([b, 1], 'int32')],
      1,
    ) as tf.Tensor2D;
    const maskF = tf.cast(lossMask, 'float32');
    const shiftedMask = tf.concat([tf.slice(maskF, [0, 1], [b, t - 1]), tf.zeros([b, 1])], 1) as tf.Tensor2D;
    return { labels, shiftedMask };
  });
}

/** Internal: validation shared with other functions taking logits/labels/mask. */
export function validateSequenceArgs(where: string, args: SequenceLogProbsArgs | CausalLogProbsArgs): void {
  assertArgs(where, args, '{ logits, labels | inputIds, mask | lossMask }');
  validateLogits(where, args.logits);
  const [b, t, v] = args.logits.shape;
  const causal = 'inputIds' in args;
  const labelName = causal ? 'inputIds' : 'labels';
  const maskName = causal ? 'lossMask' : 'mask';
  const labels = causal ? args.inputIds : (args as SequenceLogProbsArgs).labels;
  const mask = causal ? args.lossMask : (args as SequenceLogProbsArgs).mask;
  if (causal && checksShapes() && t < 2) {
    throw argumentError(
      'SHAPE_MISMATCH',
      where,
      'logits',
      'at least 2 positions (T >= 2)',
      fmtShape(args.logits.shape),
    );
  }
  assertShape(where, labelName, labels, [b, t], '[B,T]');
  assertDtype(where, labelName, labels, ['int32']);
  assertValueRange(where, labelName, labels, 0, v);
  validateMask(where, maskName, mask, b, t);
}
