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
