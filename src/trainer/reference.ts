import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { checksValues, FLOAT32_MAX } from '../core/validate';
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
  options: { batchSize: number; collate: CollateOptions; latentDim: number; withLatents: boolean },
): ReferenceEntry[] {
  const entries: ReferenceEntry[] = [];
  const latentDim = options.latentDim;
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
      const rowSize = batch.seqLength * latentDim;
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
                  i * rowSize + chosenLength * latentDim,
                ),
                rejectedLatents: (rejectedHidden as Float32Array).slice(
                  i * rowSize,
                  i * rowSize + rejectedLength * latentDim,
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
  options: { latentDim: number; withLatents: boolean; where: string },
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
  const rowSize = batch.seqLength * options.latentDim;
  const pad = (key: 'chosenLatents' | 'rejectedLatents'): tf.Tensor3D => {
    const buffer = new Float32Array(rows.length * rowSize);
    rows.forEach((e, i) => {
      const source = e[key] as Float32Array;
      buffer.set(source.subarray(0, Math.min(source.length, rowSize)), i * rowSize);
    });
    return tf.tensor3d(buffer, [rows.length, batch.seqLength, options.latentDim]);
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

/**
 * Checks a reference cache before a trainer uses it: an array of entries with finite log-probs,
 * non-negative integer lengths, and, when `withLatents`, Float32Array latents of exactly
 * length × `latentDim` values per side (without GANPO, latents are ignored).
 *
 * @throws GanpoError `INVALID_ARGUMENT` for a non-array or non-object entry, `NON_FINITE` for a
 *   log-prob that is not finite in float32 (NaN, ±Infinity, beyond ±3.4e38) or a NaN/Infinity
 *   latent (level `'full'`), `OUT_OF_RANGE` for a bad length, `SHAPE_MISMATCH` for latents of another
 *   hidden size or length.
 */
export function validateReferenceCache(
  where: string,
  entries: unknown,
  options: { latentDim: number; withLatents: boolean },
): void {
  if (!Array.isArray(entries)) {
    throw argumentError('INVALID_ARGUMENT', where, 'entries', 'a ReferenceEntry[] or null', typeof entries);
  }
  entries.forEach((e: Partial<ReferenceEntry> | null, i) => {
    const at = `entries[${i}]`;
    if (e === null || typeof e !== 'object') {
      throw argumentError('INVALID_ARGUMENT', where, at, 'a ReferenceEntry', String(e));
    }
    for (const key of ['chosenLogp', 'rejectedLogp'] as const) {
      const v = e[key];
      // Log-probs go into float32 tensors: 1e39 would become Infinity there and skip every step.
      if (typeof v !== 'number' || !(Math.abs(v) <= FLOAT32_MAX)) {
        throw argumentError('NON_FINITE', where, `${at}.${key}`, 'a number finite in float32', String(v));
      }
    }
    for (const side of ['chosen', 'rejected'] as const) {
      const length = e[`${side}Length`];
      if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) {
        throw argumentError('OUT_OF_RANGE', where, `${at}.${side}Length`, 'an integer >= 0', String(length));
      }
      if (!options.withLatents) continue;
      const latents = e[`${side}Latents`];
      if (!(latents instanceof Float32Array) || latents.length !== length * options.latentDim) {
        throw argumentError(
          'SHAPE_MISMATCH',
          where,
          `${at}.${side}Latents`,
          `a Float32Array of ${length} × ${options.latentDim} (latentDim) values`,
          latents instanceof Float32Array ? `${latents.length} values` : typeof latents,
        );
      }
      // A NaN latent (a cache file is untrusted) would only be refused mid-step by the critics.
      const bad = checksValues() ? latents.findIndex((x) => !Number.isFinite(x)) : -1;
      if (bad >= 0) {
        throw argumentError(
          'NON_FINITE',
          where,
          `${at}.${side}Latents`,
          'finite values',
          `[${bad}] = ${latents[bad]}`,
        );
      }
    }
  });
}
