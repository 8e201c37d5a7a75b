import * as tf from '@tensorflow/tfjs-core';
import { criticScores } from '../discriminators/critic-calls';
import type { Discriminator } from '../discriminators/types';
import type { GanLoss } from '../divergence/gan-loss';
import { ganpoDiscriminatorCore, type SetMeans } from '../divergence/ganpo-relativistic';
import { relativisticDiscriminatorCore } from '../divergence/relativistic';
import type { LatentBatch } from '../latent/batch';
import { offTape } from '../ops/tape';
import { DISCRIMINATOR_CALL_ORDER } from './call-order';
import { type SetName, SIDES } from './means';
import type { PerSide, Scoring } from './types';

/** Latents and mask of one scored set. */
type ScoredSet = readonly [tf.Tensor3D, tf.Tensor2D | undefined];

/**
 * What each discriminator scores: D_w its reference (h_ref^w), policy (h_θ^w) and opposite
 * (h_ref^l) sets; D_l its reference (h_ref^l), policy (h_θ^l) and opposite (h_ref^w) sets.
 */
export function scoredSets(args: LatentBatch): PerSide<SetMeans<ScoredSet>> {
  return {
    chosen: {
      reference: [args.referenceChosenLatents, args.chosenMask],
      policy: [args.policyChosenLatents, args.chosenMask],
      opposite: [args.referenceRejectedLatents, args.rejectedMask],
    },
    rejected: {
      reference: [args.referenceRejectedLatents, args.rejectedMask],
      policy: [args.policyRejectedLatents, args.rejectedMask],
      opposite: [args.referenceChosenLatents, args.chosenMask],
    },
  };
}

/**
 * Scores every set in training mode. Sets named in `constants` (scores the loss does not use, only
 * the read-back means) are scored off the gradient tape (`outsideTape`): same values, no recorded
 * backward.
 *
 * - `scoring: 'per-set'` (official order): three separate calls per discriminator, in the official
 *   `compute_loss_disc` order ({@link DISCRIMINATOR_CALL_ORDER}: the policy's latents first, then the
 *   reference's chosen and rejected ones), so that each call advances the spectral-norm power
 *   iteration and draws dropout exactly as the official code does.
 * - `scoring: 'batched'`: the taped sets of one discriminator that share a mask (and length) are
 *   scored in ONE call on their concatenation along the batch axis ([k·B,T,H] latents, [k·B,T]
 *   masks, k ≤ 3), and the scores are split back per set; constants are scored in a separate
 *   off-tape call. Attention, pooling and the score head act per sequence, so the scores equal the
 *   per-set ones except for what a call shares: one spectral-norm power iteration per call (one per
 *   update instead of two or three, as in SN-GAN, Miyato et al. 2018, arXiv 1802.05957) and the
 *   dropout draws. Fewer, larger kernels: the forward and backward of a small critic cost about one
 *   call instead of two.
 */
export function scoreSets(
  discriminators: Readonly<PerSide<Discriminator>>,
  sets: PerSide<SetMeans<ScoredSet>>,
  constants: readonly SetName[] = [],
  scoring: Scoring = 'per-set',
): PerSide<SetMeans<tf.Tensor1D>> {
  const scores = {} as PerSide<SetMeans<tf.Tensor1D>>;
  for (const side of SIDES) {
    const d = discriminators[side];
    const s = {} as SetMeans<tf.Tensor1D>;
    if (scoring === 'batched') {
      for (const group of batchGroups(sets[side], DISCRIMINATOR_CALL_ORDER[side], constants)) {
        Object.assign(s, scoreGroup(d, sets[side], group, constants.includes(group[0] as SetName)));
      }
    } else {
      for (const set of DISCRIMINATOR_CALL_ORDER[side]) {
        const [latents, mask] = sets[side][set];
        const score = (): tf.Tensor1D => criticScores(d, latents, { mask, training: true });
        s[set] = constants.includes(set) ? offTape(score) : score();
      }
    }
    scores[side] = s;
  }
  return scores;
}

/**
 * The sets of one discriminator scored together under `'batched'`, in call order: sets join a group
 * when they are all taped or all constants, share the mask tensor (or have none) and the length T.
 */
function batchGroups(
  sets: SetMeans<ScoredSet>,
  order: readonly SetName[],
  constants: readonly SetName[],
): SetName[][] {
  const groups: SetName[][] = [];
  for (const set of order) {
    const [latents, mask] = sets[set];
    const group = groups.find((g) => {
      const [l0, m0] = sets[g[0] as SetName];
      return (
        constants.includes(g[0] as SetName) === constants.includes(set) &&
        m0 === mask &&
        l0.shape[1] === latents.shape[1]
      );
    });
    if (group) group.push(set);
    else groups.push([set]);
  }
  return groups;
}

/** One training-mode call on the concatenated sets of `group`, its scores split back per set. */
function scoreGroup(
  d: Discriminator,
  sets: SetMeans<ScoredSet>,
  group: readonly SetName[],
  constant: boolean,
): Partial<SetMeans<tf.Tensor1D>> {
  const score = (): tf.Tensor1D[] => {
    if (group.length === 1) {
      const [latents, mask] = sets[group[0] as SetName];
      return [criticScores(d, latents, { mask, training: true })];
    }
    const latents = tf.concat(
      group.map((g) => sets[g][0]),
      0,
    ) as tf.Tensor3D;
    const masks = group.map((g) => sets[g][1]);
    const mask = masks[0] === undefined ? undefined : (tf.concat(masks as tf.Tensor2D[], 0) as tf.Tensor2D);
    const all = criticScores(d, latents, { mask, training: true });
    tf.dispose([latents, mask]);
    const parts = tf.split(
      all,
      group.map((g) => sets[g][0].shape[0]),
      0,
    ) as tf.Tensor1D[];
    all.dispose();
    return parts;
  };
  const parts = constant ? offTape(score) : score();
  const out: Partial<SetMeans<tf.Tensor1D>> = {};
  group.forEach((g, i) => {
    out[g] = parts[i] as tf.Tensor1D;
  });
  return out;
}

/**
 * One discriminator's loss on its three scored sets: the official "quad" loss
 * ({@link ganpoDiscriminatorLoss}), or with `negatives: false` plain RaGAN reference vs policy
 * ({@link relativisticDiscriminatorLoss}). `means` are constants (`'ema'`); omitted, the losses use
 * the batch means with gradient (`'batch'`).
 */
export function sideDiscriminatorLoss(
  scores: SetMeans<tf.Tensor1D>,
  means: SetMeans<number> | undefined,
  options: { ganLoss: GanLoss; negatives: boolean },
): tf.Scalar {
  return options.negatives
    ? ganpoDiscriminatorCore({
        reference: scores.reference,
        policy: scores.policy,
        opposite: scores.opposite,
        means: means ?? {},
        ganLoss: options.ganLoss,
      })
    : relativisticDiscriminatorCore({
        real: scores.reference,
        fake: scores.policy,
        realMean: means?.reference,
        fakeMean: means?.policy,
        ganLoss: options.ganLoss,
      });
}
