import type * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import {
  assertBinary,
  assertFinite,
  assertRank,
  assertShape,
  checksShapes,
  fmtShape,
} from '../core/validate';
import type { GeneratorLoss } from './preset';
import type { AdversarialLossArgs, DiscriminatorStepArgs, MeanEstimator } from './types';

/** A latents argument and its optional mask argument: `[name, latents, maskName, mask]`. */
export type LatentsEntry = readonly [string, tf.Tensor3D, string, tf.Tensor2D | undefined];

/**
 * Validates latents for the discriminators: rank 3 [B,T,H] with H = `inputDim`, one batch size B
 * for all, masks [B,T] of 0/1, finite values.
 *
 * @throws GanpoError naming the first bad argument.
 */
export function validateLatents(where: string, inputDim: number, entries: readonly LatentsEntry[]): void {
  let batch: number | null = null;
  let batchName = '';
  for (const [name, latents, maskName, mask] of entries) {
    assertRank(where, name, latents, 3);
    if (checksShapes()) {
      if (latents.shape[2] !== inputDim) {
        throw argumentError(
          'SHAPE_MISMATCH',
          where,
          name,
          `hidden size ${inputDim} (the discriminators' inputDim) in [B,T,H]`,
          `shape ${fmtShape(latents.shape)}`,
        );
      }
      if (batch === null) {
        batch = latents.shape[0];
        batchName = name;
      } else if (latents.shape[0] !== batch) {
        throw argumentError(
          'SHAPE_MISMATCH',
          where,
          name,
          `batch size ${batch} (that of '${batchName}')`,
          `shape ${fmtShape(latents.shape)}`,
        );
      }
    }
    if (mask !== undefined) {
      assertShape(where, maskName, mask, [latents.shape[0], latents.shape[1]], `[B,T] of '${name}'`);
      assertBinary(where, maskName, mask);
    }
    assertFinite(where, name, latents);
  }
}

/** Policy and reference latents of the same side must have the same sequence length. */
export function validateSequenceLengths(
  where: string,
  pairs: readonly (readonly [tf.Tensor3D, string, tf.Tensor3D, string])[],
): void {
  if (!checksShapes()) return;
  for (const [a, an, b, bn] of pairs) {
    if (a.shape[1] !== b.shape[1]) {
      throw argumentError(
        'SHAPE_MISMATCH',
        where,
        bn,
        `sequence length ${a.shape[1]} (that of '${an}')`,
        `shape ${fmtShape(b.shape)}`,
      );
    }
  }
}

/**
 * Checks the latents of a discriminator step: every tensor against `inputDim` and one batch size,
 * and each side's policy and reference latents of one sequence length.
 *
 * @throws GanpoError naming the first bad argument.
 */
export function validateStepLatents(where: string, inputDim: number, args: DiscriminatorStepArgs): void {
  const { policyChosen, policyRejected, referenceChosen, referenceRejected, chosenMask, rejectedMask } = args;
  validateLatents(where, inputDim, [
    ['policyChosen', policyChosen, 'chosenMask', chosenMask],
    ['referenceChosen', referenceChosen, 'chosenMask', chosenMask],
    ['policyRejected', policyRejected, 'rejectedMask', rejectedMask],
    ['referenceRejected', referenceRejected, 'rejectedMask', rejectedMask],
  ]);
  validateSequenceLengths(where, [
    [policyChosen, 'policyChosen', referenceChosen, 'referenceChosen'],
    [policyRejected, 'policyRejected', referenceRejected, 'referenceRejected'],
  ]);
}

/**
 * Checks the latents of an adversarial loss for the given generator and estimator, and says whether
 * the reference latents take part: always with the paired generators (which need them), with the
 * one-sided generator only under the `'batch'` estimator when they are given.
 *
 * @throws GanpoError `INVALID_ARGUMENT` without reference latents under a paired generator; otherwise
 *   naming the first bad latents or mask.
 */
export function validateAdversarialLatents(
  where: string,
  inputDim: number,
  options: { generator: GeneratorLoss; estimator: MeanEstimator },
  args: AdversarialLossArgs,
): { useReference: boolean } {
  const { policyChosen, policyRejected, chosenMask, rejectedMask, referenceChosen, referenceRejected } = args;
  const paired = options.generator !== 'one-sided';
  if (paired && (referenceChosen === undefined || referenceRejected === undefined)) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      referenceChosen === undefined ? 'referenceChosen' : 'referenceRejected',
      `the reference latents of the batch (generator '${options.generator}'; or preset: 'official')`,
      'undefined',
    );
  }
  const useReference =
    paired ||
    (options.estimator === 'batch' && referenceChosen !== undefined && referenceRejected !== undefined);
  validateLatents(where, inputDim, [
    ['policyChosen', policyChosen, 'chosenMask', chosenMask],
    ['policyRejected', policyRejected, 'rejectedMask', rejectedMask],
    ...(useReference
      ? ([
          ['referenceChosen', referenceChosen, 'chosenMask', chosenMask],
          ['referenceRejected', referenceRejected, 'rejectedMask', rejectedMask],
        ] as LatentsEntry[])
      : []),
  ]);
  if (paired) {
    validateSequenceLengths(where, [
      [policyChosen, 'policyChosen', referenceChosen as tf.Tensor3D, 'referenceChosen'],
      [policyRejected, 'policyRejected', referenceRejected as tf.Tensor3D, 'referenceRejected'],
    ]);
  }
  return { useReference };
}
