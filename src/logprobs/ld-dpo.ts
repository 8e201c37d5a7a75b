import * as tf from '@tensorflow/tfjs-core';
import { tidyObject } from '../core/tidy-object';
import {
  assertArgs,
  assertBinary,
  assertDtype,
  assertNumber,
  assertObject,
  assertRank,
  assertSameShape,
  assertShape,
} from '../core/validate';

/** Per-token log-probs and the mask in the same coordinates (for causal outputs: `lossMask[:, 1:]`). @inline */
export interface MaskedPerToken {
  /** Masked per-token log-probs [B,T] (`SequenceLogProbs.perToken`). */
  perToken: tf.Tensor2D;
  /** 0/1 mask [B,T] in the coordinates of `perToken`. */
  mask: tf.Tensor2D;
}

/** Arguments of {@link ldDpoLogProbs}. @inline */
export interface LdDpoArgs {
  chosen: MaskedPerToken;
  rejected: MaskedPerToken;
  /** Weight of tokens beyond the public length, in [0, 1] (TRL `ld_alpha`; no default, as TRL's is off). */
  alpha: number;
}

/**
 * LD-DPO length-desensitised sequence log-probs (Liu et al. 2024, "Length Desensitization in
 * Direct Preference Optimization", arXiv 2409.06411; TRL's `ld_alpha`). With the public length
 * ℓ_p = min(|y_c|, |y_r|) of a pair, the first ℓ_p response tokens of each response count fully and
 * the rest are down-weighted by α:
 *
 *     logp = Σ_{k ≤ ℓ_p} log p(y_k) + α · Σ_{k > ℓ_p} log p(y_k)       (k = rank among response tokens)
 *
 * α = 1 gives the summed log-prob; α = 0 truncates to the shorter response. TRL applies this to the
 * policy only (the reference keeps plain sums); do the same. Tokens are ranked by their order among
 * masked-in positions (a cumulative sum of the mask), so prompt tokens and left padding never count
 * toward ℓ_p — TRL indexes absolute positions, which coincides only for response-only, left-aligned
 * rows.
 *
 * @param args - `chosen`, `rejected` (masked per-token log-probs) and `alpha`: weight of tokens beyond the public length, in [0, 1]; the paper's α (TRL `ld_alpha`).
 * @returns `{ chosen [B], rejected [B] }`, differentiable w.r.t. the per-token log-probs.
 */
export function ldDpoLogProbs(args: LdDpoArgs): {
  chosen: tf.Tensor1D;
  rejected: tf.Tensor1D;
} {
  const where = 'ldDpoLogProbs';
  assertArgs(where, args, '{ chosen, rejected, alpha }');
  const { chosen, rejected, alpha } = args;
  assertObject(where, 'chosen', chosen, '{ perToken, mask }');
  assertObject(where, 'rejected', rejected, '{ perToken, mask }');
  assertNumber(where, 'alpha', alpha, { min: 0, max: 1 });
  assertRank(where, 'chosen.perToken', chosen.perToken, 2);
  assertRank(where, 'rejected.perToken', rejected.perToken, 2);
  assertDtype(where, 'chosen.perToken', chosen.perToken, ['float32']);
  assertDtype(where, 'rejected.perToken', rejected.perToken, ['float32']);
  assertSameShape(where, 'chosen.perToken', chosen.perToken, 'chosen.mask', chosen.mask);
  assertSameShape(where, 'rejected.perToken', rejected.perToken, 'rejected.mask', rejected.mask);
  assertShape(where, 'rejected.perToken', rejected.perToken, [chosen.perToken.shape[0], null], '[B,T]');
  assertBinary(where, 'chosen.mask', chosen.mask);
  assertBinary(where, 'rejected.mask', rejected.mask);
  return tidyObject(() => {
    const chosenMask = tf.cast(chosen.mask, 'float32');
    const rejectedMask = tf.cast(rejected.mask, 'float32');
    const publicLength = tf.expandDims(tf.minimum(tf.sum(chosenMask, 1), tf.sum(rejectedMask, 1)), 1); // [B,1]
    const aggregate = (perToken: tf.Tensor2D, mask: tf.Tensor): tf.Tensor1D => {
      const rank = tf.cumsum(mask, 1); // 1-based rank of each response token
      const front = tf.mul(mask, tf.cast(tf.lessEqual(rank, publicLength), 'float32'));
      const weight = tf.add(front, tf.mul(tf.sub(mask, front), alpha)); // 1 in front, α behind, 0 off-mask
      return tf.sum(tf.mul(perToken, weight), 1) as tf.Tensor1D;
    };
    return {
      chosen: aggregate(chosen.perToken, chosenMask),
      rejected: aggregate(rejected.perToken, rejectedMask),
    };
  });
}
