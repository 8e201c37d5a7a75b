// Supervised fine-tuning of the tiny LM on prompt+chosen: teacher-forced next-token cross-entropy.
// This produces the starting policy (and the reference) of preference training in the demo.
import * as tf from '@tensorflow/tfjs-core';
import {
  BatchSampler,
  type CollatedSequences,
  type CollateOptions,
  collatePreferencePairs,
  disposePreferenceBatch,
  type PreferencePair,
} from 'ganpo';
import type { TinyLM } from './model';

/**
 * Mean next-token cross-entropy of `lm` on a collated batch: −Σ mask_{t+1}·log p(x_{t+1} | x_≤t) /
 * max(Σ mask, 1). With `completionOnly` (default true, TRL SFTTrainer's `completion_only_loss` for
 * prompt-completion data) the mask is the completion mask; otherwise every real token after the first.
 * Written with logSoftmax × one-hot (no gather: its gradient is missing on wasm).
 */
export function sftLoss(
  lm: TinyLM,
  batch: CollatedSequences,
  { completionOnly = true, training = true }: { completionOnly?: boolean; training?: boolean } = {},
): tf.Scalar {
  return tf.tidy(() => {
    const [b, t] = batch.inputIds.shape;
    const { logits } = lm.forward(batch.inputIds, { training });
    const v = logits.shape[2];
    const predicting = tf.slice(logits, [0, 0, 0], [b, t - 1, v]);
    const targets = tf.slice(batch.inputIds, [0, 1], [b, t - 1]);
    const maskSource = completionOnly ? batch.completionMask : batch.attentionMask;
    const mask = tf.cast(tf.slice(maskSource, [0, 1], [b, t - 1]), 'float32');
    // oneHot's own dtype argument is broken on wasm (tfjs 4.22 writes int32 bits into a float32
    // tensor: 1 reads as 1.4e-45), so build it as int32 and cast.
    const targetsOneHot = tf.cast(tf.oneHot(targets, v), 'float32');
    const logp = tf.sum(tf.mul(tf.logSoftmax(predicting, -1), targetsOneHot), -1);
    return tf.div(tf.neg(tf.sum(tf.mul(logp, mask))), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
  });
}

/** Options of {@link sftTrain}. */
export interface SftOptions {
  lm: TinyLM;
  /** Token-id pairs; only prompt + chosen are used. */
  pairs: readonly PreferencePair[];
  /** Collation (pad/eos ids, lengths); responses get EOS appended so the model learns to stop. */
  collate: CollateOptions;
  steps: number;
  /** Default 32. */
  batchSize?: number;
  /** Adam learning rate. Default 1e-3 (a common choice for small transformers, e.g. nanoGPT's char model). */
  learningRate?: number;
  /** Seed of the data order. Default 0. */
  seed?: number;
  /** See {@link sftLoss}. Default true. */
  completionOnly?: boolean;
  onStep?: (info: { step: number; loss: number }) => void;
}

/**
 * Teacher-forced SFT with Adam (β 0.9/0.999, ε 1e-8 as PyTorch): `steps` optimizer steps over
 * batches drawn by a seeded {@link BatchSampler}. Returns the loss of every step.
 */
export function sftTrain(options: SftOptions): { losses: number[] } {
  const {
    lm,
    pairs,
    collate,
    steps,
    batchSize = 32,
    learningRate = 1e-3,
    seed = 0,
    completionOnly = true,
  } = options;
  const optimizer = tf.train.adam(learningRate, 0.9, 0.999, 1e-8);
  const sampler = new BatchSampler({
    datasetSize: pairs.length,
    batchSize: Math.min(batchSize, pairs.length),
    seed,
  });
  const variables = lm.trainableVariables;
  const losses: number[] = [];
  try {
    for (let step = 0; step < steps; step++) {
      const { indices } = sampler.next();
      const batch = collatePreferencePairs(
        indices.map((i) => pairs[i] as PreferencePair),
        collate,
      );
      let loss: tf.Scalar | null = null;
      try {
        loss = optimizer.minimize(() => sftLoss(lm, batch.chosen, { completionOnly }), true, variables);
      } finally {
        disposePreferenceBatch(batch);
      }
      const value = (loss as tf.Scalar).dataSync()[0] as number;
      (loss as tf.Scalar).dispose();
      losses.push(value);
      options.onStep?.({ step, loss: value });
    }
  } finally {
    optimizer.dispose();
  }
  return { losses };
}
