import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import {
  type CollateOptions,
  collatePreferencePairs,
  disposePreferenceBatch,
  type PreferenceBatch,
  type PreferencePair,
} from './collate';
import { type CausalLM, forwardSide } from './forward';

/** Cached reference outputs of one pair (see {@link GanpoTrainer.precomputeReference}). */
export interface ReferenceEntry {
  chosenLogp: number;
  rejectedLogp: number;
  /** Latents of the unpadded chosen sequence, row-major [Tc,H] (absent without GANPO). */
  chosenLatents?: Float32Array;
  rejectedLatents?: Float32Array;
  chosenLength: number;
  rejectedLength: number;
}

/** The reference model's outputs on one batch (constants of the step). */
export interface ReferenceOutputs {
  /** Summed completion log-probs [B]. */
  logps: { chosen: tf.Tensor1D; rejected: tf.Tensor1D };
  /** Latents [B,T,H], or `null` without GANPO. */
  hidden: { chosen: tf.Tensor3D; rejected: tf.Tensor3D } | null;
}

/**
 * Runs `reference` over `pairs` in batches and returns its summed log-probs (and with
 * `withLatents` the latents of each unpadded sequence) by pair index.
 */
export function precomputeReference(
  reference: CausalLM,
  pairs: readonly PreferencePair[],
  options: { batchSize: number; collate: CollateOptions; hiddenSize: number; withLatents: boolean },
): ReferenceEntry[] {
  const entries: ReferenceEntry[] = [];
  const hiddenSize = options.hiddenSize;
  for (let start = 0; start < pairs.length; start += options.batchSize) {
    const batch = collatePreferencePairs(pairs.slice(start, start + options.batchSize), options.collate);
    try {
      const out = tf.tidy(() => {
        const chosen = forwardSide(reference, batch.chosen, false);
        const rejected = forwardSide(reference, batch.rejected, false);
        return [chosen.logps, rejected.logps, chosen.hidden, rejected.hidden];
      });
      const [chosenLogps, rejectedLogps, chosenHidden, rejectedHidden] = out.map((t) =>
        t.dataSync(),
      ) as Float32Array[];
      tf.dispose(out);
      const rowSize = batch.seqLength * hiddenSize;
      for (let i = 0; i < batch.batchSize; i++) {
        const chosenLength = (batch.lengths.chosenPrompt[i] as number) + (batch.lengths.chosen[i] as number);
        const rejectedLength =
          (batch.lengths.rejectedPrompt[i] as number) + (batch.lengths.rejected[i] as number);
        entries.push({
          chosenLogp: chosenLogps?.[i] as number,
          rejectedLogp: rejectedLogps?.[i] as number,
          chosenLength,
          rejectedLength,
          ...(options.withLatents
            ? {
                chosenLatents: (chosenHidden as Float32Array).slice(
                  i * rowSize,
                  i * rowSize + chosenLength * hiddenSize,
                ),
                rejectedLatents: (rejectedHidden as Float32Array).slice(
                  i * rowSize,
                  i * rowSize + rejectedLength * hiddenSize,
                ),
              }
            : {}),
        });
      }
    } finally {
      disposePreferenceBatch(batch);
    }
  }
  return entries;
}

/** The reference outputs of a batch from the live reference model (latents only `withLatents`). */
export function liveReference(
  reference: CausalLM,
  batch: PreferenceBatch,
  withLatents: boolean,
): ReferenceOutputs {
  const [chosenLogps, rejectedLogps, chosenHidden, rejectedHidden] = tf.tidy(() => {
    const chosen = forwardSide(reference, batch.chosen, false);
    const rejected = forwardSide(reference, batch.rejected, false);
    return [chosen.logps, rejected.logps, chosen.hidden, rejected.hidden];
  }) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor3D, tf.Tensor3D];
  if (!withLatents) tf.dispose([chosenHidden, rejectedHidden]);
  return {
    logps: { chosen: chosenLogps, rejected: rejectedLogps },
    hidden: withLatents ? { chosen: chosenHidden, rejected: rejectedHidden } : null,
  };
}

/**
 * The reference outputs of a batch from a precomputed cache: `indices` are the pairs' positions in
 * the training set; latents are zero-padded to the batch's sequence length.
 */
export function cachedReference(
  cache: readonly ReferenceEntry[],
  indices: readonly number[],
  batch: PreferenceBatch,
  options: { hiddenSize: number; withLatents: boolean; where: string },
): ReferenceOutputs {
  const rows = indices.map((i) => {
    const entry = cache[i];
    if (!entry)
      throw argumentError(
        'OUT_OF_RANGE',
        options.where,
        'indices',
        `indices into the reference cache (${cache.length} entries)`,
        String(i),
      );
    return entry;
  });
  const logps = {
    chosen: tf.tensor1d(rows.map((e) => e.chosenLogp)),
    rejected: tf.tensor1d(rows.map((e) => e.rejectedLogp)),
  };
  if (!options.withLatents) return { logps, hidden: null };
  const rowSize = batch.seqLength * options.hiddenSize;
  const pad = (key: 'chosenLatents' | 'rejectedLatents'): tf.Tensor3D => {
    const buffer = new Float32Array(rows.length * rowSize);
    rows.forEach((e, i) => {
      const source = e[key] as Float32Array;
      buffer.set(source.subarray(0, Math.min(source.length, rowSize)), i * rowSize);
    });
    return tf.tensor3d(buffer, [rows.length, batch.seqLength, options.hiddenSize]);
  };
  return { logps, hidden: { chosen: pad('chosenLatents'), rejected: pad('rejectedLatents') } };
}

/** Every tensor of `outputs`, for disposal. */
export function referenceTensors(outputs: ReferenceOutputs): tf.Tensor[] {
  return [
    outputs.logps.chosen,
    outputs.logps.rejected,
    ...(outputs.hidden ? [outputs.hidden.chosen, outputs.hidden.rejected] : []),
  ];
}
