import type * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import {
  assertArgs,
  assertBinary,
  assertDtype,
  assertFinite,
  assertRank,
  assertShape,
  checksShapes,
  fmtShape,
} from '../core/validate';

/**
 * The latents of one batch of preference pairs, under the names every latent loss of ganpo takes
 * (`ganpoLoss`, `GanpoRegularizer.discriminatorStep` / `adversarialLoss`, `latentAnchorLoss`, the
 * trainer): the policy's and the reference model's hidden states of the same prompt+chosen and
 * prompt+rejected sequences, and their attention masks.
 *
 * Shapes: chosen latents [B,Tc,H], rejected latents [B,Tr,H] (H = the policy's latent width,
 * `latentDim`), masks [B,Tc] / [B,Tr] of 0/1. Row i of a policy tensor and row i of its reference
 * tensor come from the same token sequence.
 */
export interface LatentBatch {
  /** Policy hidden states of prompt+chosen [B,Tc,H]; with gradient to the policy where a loss needs it. */
  policyChosenLatents: tf.Tensor3D;
  /** Policy hidden states of prompt+rejected [B,Tr,H]. */
  policyRejectedLatents: tf.Tensor3D;
  /** Reference-model hidden states of the same prompt+chosen sequences [B,Tc,H] (constants). */
  referenceChosenLatents: tf.Tensor3D;
  /** Reference-model hidden states of the same prompt+rejected sequences [B,Tr,H] (constants). */
  referenceRejectedLatents: tf.Tensor3D;
  /** [B,Tc] 0/1 attention mask of the chosen sequences; omitted = every position counts (official code). */
  chosenMask?: tf.Tensor2D;
  /** [B,Tr] 0/1 attention mask of the rejected sequences; omitted = every position counts. */
  rejectedMask?: tf.Tensor2D;
}

/** The four latent arguments, in the order they are checked, with their side's mask argument. */
const ENTRIES = [
  ['policyChosenLatents', 'chosenMask'],
  ['referenceChosenLatents', 'chosenMask'],
  ['policyRejectedLatents', 'rejectedMask'],
  ['referenceRejectedLatents', 'rejectedMask'],
] as const;

/**
 * Checks a {@link LatentBatch}, the one validation of a latent loss's arguments: every latent
 * tensor float32 of rank 3, B ≥ 1 and T ≥ 1, width `latentDim` (or, without one, the width of
 * `policyChosenLatents`) and one batch size B; each side's policy and reference latents of one
 * sequence length; each mask (checked once) [B,T] float32, int32 or bool of 0/1; finite values
 * (values at level `'full'`, outside a gradient tape). The critics and losses behind it then run
 * unchecked.
 *
 * @param latentDim - the width the latents must have, e.g. a regularizer's; `undefined` = any one width.
 * @param owner - what `latentDim` belongs to, for the message (e.g. `"the regularizer's latentDim"`).
 * @throws GanpoError naming the first bad argument.
 */
export function validateLatentBatch(
  where: string,
  batch: LatentBatch,
  latentDim?: number,
  owner = 'latentDim',
): void {
  assertArgs(
    where,
    batch,
    '{ policyChosenLatents, policyRejectedLatents, referenceChosenLatents, referenceRejectedLatents, ... }',
  );
  let width = latentDim;
  let widthName = owner;
  let size: number | null = null;
  let sizeName = '';
  const maskChecked = { chosenMask: false, rejectedMask: false };
  for (const [name, maskName] of ENTRIES) {
    const latents = batch[name];
    assertRank(where, name, latents, 3);
    assertDtype(where, name, latents, ['float32']);
    if (checksShapes()) {
      if (latents.shape[0] === 0 || latents.shape[1] === 0) {
        throw argumentError(
          'SHAPE_MISMATCH',
          where,
          name,
          'B > 0 and T > 0 in [B,T,H]',
          `shape ${fmtShape(latents.shape)}`,
        );
      }
      if (width === undefined) {
        width = latents.shape[2];
        widthName = `that of '${name}'`;
      } else if (latents.shape[2] !== width) {
        throw argumentError(
          'SHAPE_MISMATCH',
          where,
          name,
          `latent width ${width} (${widthName}) in [B,T,H]`,
          `shape ${fmtShape(latents.shape)}`,
        );
      }
      if (size === null) {
        size = latents.shape[0];
        sizeName = name;
      } else if (latents.shape[0] !== size) {
        throw argumentError(
          'SHAPE_MISMATCH',
          where,
          name,
          `batch size ${size} (that of '${sizeName}')`,
          `shape ${fmtShape(latents.shape)}`,
        );
      }
    }
    const mask = batch[maskName];
    if (mask !== undefined && !maskChecked[maskName]) {
      assertShape(where, maskName, mask, [latents.shape[0], latents.shape[1]], `[B,T] of '${name}'`);
      assertDtype(where, maskName, mask, ['float32', 'int32', 'bool']);
      assertBinary(where, maskName, mask);
      maskChecked[maskName] = true;
    }
    assertFinite(where, name, latents);
  }
  if (!checksShapes()) return;
  for (const [policy, reference] of [
    ['policyChosenLatents', 'referenceChosenLatents'],
    ['policyRejectedLatents', 'referenceRejectedLatents'],
  ] as const) {
    const [a, b] = [batch[policy], batch[reference]];
    if (a.shape[1] !== b.shape[1]) {
      throw argumentError(
        'SHAPE_MISMATCH',
        where,
        reference,
        `sequence length ${a.shape[1]} (that of '${policy}')`,
        `shape ${fmtShape(b.shape)}`,
      );
    }
  }
}
