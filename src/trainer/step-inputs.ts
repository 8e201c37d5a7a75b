import { argumentError, GanpoError } from '../core/errors';

/**
 * The checks of `trainStep`'s arguments: `batchSize` pairs, one index per pair with a reference
 * cache, and a reference (model or cache) for DPO.
 *
 * @throws GanpoError `SHAPE_MISMATCH` naming `pairs`, `INVALID_ARGUMENT` naming `indices`,
 *   `INVALID_STATE` without a reference for DPO.
 */
export function checkStepInputs(
  where: string,
  pairs: unknown,
  indices: readonly number[] | undefined,
  context: { batchSize: number; cached: boolean; needsReference: boolean },
): void {
  if (!Array.isArray(pairs) || pairs.length !== context.batchSize) {
    throw argumentError(
      'SHAPE_MISMATCH',
      where,
      'pairs',
      `${context.batchSize} pairs (batchSize)`,
      Array.isArray(pairs) ? `${pairs.length}` : typeof pairs,
    );
  }
  if (context.cached && (!indices || indices.length !== pairs.length)) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      'indices',
      `${pairs.length} indices into the reference cache`,
      String(indices?.length),
    );
  }
  if (!context.cached && context.needsReference) {
    throw new GanpoError(
      'INVALID_STATE',
      `${where}: DPO needs a reference model or a precomputed reference cache`,
    );
  }
}
