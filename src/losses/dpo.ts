import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { tidyObject } from '../core/tidy-object';
import {
  assertArgs,
  assertBothOrNeither,
  assertNumber,
  assertOneOf,
  assertTensor,
  assertValueRange,
  checksValues,
} from '../core/validate';
import { logSigmoid } from '../ops/log-sigmoid';
import { sortAscending } from '../ops/sort';
import { stopGradient } from '../ops/stop-gradient';
import { F_DIVERGENCES, type FDivergence, fDivergenceTransform } from './f-divergence';
import { validatePairInputs } from './pair-inputs';
import { smoothedSigmoid } from './sigmoid-loss';
import type { PreferenceLoss } from './types';

/** The DPO-family loss types of TRL's `DPOConfig.loss_type`. */
export type DpoLossType =
  | 'sigmoid'
  | 'hinge'
  | 'ipo'
  | 'exo_pair'
  | 'nca_pair'
  | 'robust'
  | 'bco_pair'
  | 'sppo_hard'
  | 'aot'
  | 'aot_unpaired'
  | 'apo_zero'
  | 'apo_down'
  | 'discopop'
  | 'sigmoid_norm';

/** Every {@link DpoLossType}, in TRL's order (for option menus and validation). */
export const DPO_LOSS_TYPES: readonly DpoLossType[] = [
  'sigmoid',
  'hinge',
  'ipo',
  'exo_pair',
  'nca_pair',
  'robust',
  'bco_pair',
  'sppo_hard',
  'aot',
  'aot_unpaired',
  'apo_zero',
  'apo_down',
  'discopop',
  'sigmoid_norm',
];

/** Arguments of {@link dpoLoss}. All log-probs are **summed** sequence log-probs [B], float32. @inline */
export interface DpoLossArgs {
  policyChosenLogps: tf.Tensor1D;
  policyRejectedLogps: tf.Tensor1D;
  /** Reference model's chosen log-probs [B]. Omit both references for reference-free DPO (zeros). */
  referenceChosenLogps?: tf.Tensor1D;
  referenceRejectedLogps?: tf.Tensor1D;
  /** Response token counts [B] (float32 or int32); required by `ipo` and `sigmoid_norm`. */
  chosenLengths?: tf.Tensor1D;
  rejectedLengths?: tf.Tensor1D;
  /** β > 0, the KL-penalty temperature (IPO's τ). Default 0.1 (TRL `DPOConfig.beta`). */
  beta?: number;
  /**
   * One loss type, or several to mix (TRL `loss_type=[...]`, e.g. MPO's sigmoid + bco_pair).
   * Default `'sigmoid'` (TRL).
   */
  lossType?: DpoLossType | readonly DpoLossType[];
  /** Weight of each entry of a `lossType` list (TRL `loss_weights`). Default all 1 (TRL). */
  lossWeights?: readonly number[];
  /**
   * ε. `aot`, `aot_unpaired`: label smoothing in [0, 0.5]; `robust`: [0, 0.5); `exo_pair`: (0, 1),
   * required > 0 (TRL refuses 0 too). `sigmoid`: conservative-DPO (cDPO) smoothing in [0, 0.5], which
   * TRL's current `sigmoid` branch no longer has (ε = 0 is TRL's formula). Ignored by the other
   * losses (as in TRL). Default 0 (TRL).
   */
  labelSmoothing?: number;
  /** f-divergence applied to the log-ratios. Default `'reverse_kl'` (TRL). */
  fDivergence?: FDivergence;
  /**
   * α of `alpha_divergence`, g(u) = exp((α−1)u)/(α−1) (1 = reverse KL); the same α as TRL's
   * `DPOConfig.f_alpha_divergence_coef`. Default 0.5 (TRL).
   */
  alpha?: number;
  /** τ of `discopop` > 0. Default 0.05 (TRL `DPOConfig.discopop_tau`). */
  discopopTau?: number;
  /**
   * δ subtracted from the rewards by `bco_pair`. Default 0, TRL's `bco_pair` branch; BCO proper
   * (a running mean δ of the rewards, unpaired data) is `bcoLoss`.
   */
  bcoDelta?: number;
  /** Per-pair weights multiplying the losses [B], e.g. WPO's {@link wpoWeights}. Default none. */
  weights?: tf.Tensor1D;
}

const WHERE = 'dpoLoss';

interface Terms {
  beta: number;
  eps: number;
  tau: number;
  delta: number;
  /** ρ = policy − reference. */
  rhoC: tf.Tensor1D;
  rhoR: tf.Tensor1D;
  /** s = g(ρ). */
  sC: tf.Tensor1D;
  sR: tf.Tensor1D;
  /** Summed log-probs [B] (reference: zeros when absent). */
  policyChosenLogps: tf.Tensor1D;
  policyRejectedLogps: tf.Tensor1D;
  referenceChosenLogps: tf.Tensor1D;
  referenceRejectedLogps: tf.Tensor1D;
  lenC?: tf.Tensor1D;
  lenR?: tf.Tensor1D;
}

function perPairLoss(type: DpoLossType, t: Terms): tf.Tensor1D {
  const { beta, eps } = t;
  const delta = (): tf.Tensor1D => tf.sub(t.sC, t.sR);
  const normDelta = (): tf.Tensor1D =>
    tf.sub(
      tf.div(t.sC, tf.maximum(t.lenC as tf.Tensor1D, 1)),
      tf.div(t.sR, tf.maximum(t.lenR as tf.Tensor1D, 1)),
    );
  switch (type) {
    case 'sigmoid':
      return smoothedSigmoid(tf.mul(delta(), beta), eps);
    case 'hinge':
      return tf.relu(tf.sub(1, tf.mul(delta(), beta))) as tf.Tensor1D;
    case 'ipo':
      return tf.square(tf.sub(normDelta(), 1 / (2 * beta))) as tf.Tensor1D;
    case 'exo_pair': {
      const z = tf.mul(delta(), beta);
      const left = tf.mul(tf.sigmoid(z), tf.sub(logSigmoid(z), Math.log(1 - eps)));
      const right = tf.mul(tf.sigmoid(tf.neg(z)), tf.sub(logSigmoid(tf.neg(z)), Math.log(eps)));
      return tf.add(left, right) as tf.Tensor1D;
    }
    case 'nca_pair': {
      const c = tf.mul(t.sC, beta);
      const r = tf.mul(t.sR, beta);
      return tf.neg(
        tf.add(logSigmoid(c), tf.mul(tf.add(logSigmoid(tf.neg(c)), logSigmoid(tf.neg(r))), 0.5)),
      ) as tf.Tensor1D;
    }
    case 'robust': {
      const z = tf.mul(delta(), beta);
      const num = tf.add(tf.mul(tf.neg(logSigmoid(z)), 1 - eps), tf.mul(logSigmoid(tf.neg(z)), eps));
      return tf.div(num, 1 - 2 * eps) as tf.Tensor1D;
    }
    case 'bco_pair': {
      const c = tf.sub(tf.mul(t.sC, beta), t.delta);
      const r = tf.sub(tf.mul(t.sR, beta), t.delta);
      return tf.neg(tf.add(logSigmoid(c), logSigmoid(tf.neg(r)))) as tf.Tensor1D;
    }
    case 'sppo_hard': {
      const h = 1 / (2 * beta);
      return tf.add(tf.square(tf.sub(t.sC, h)), tf.square(tf.add(t.sR, h))) as tf.Tensor1D;
    }
    case 'aot': {
      const d = tf.sub(
        sortAscending(tf.sub(t.policyChosenLogps, t.policyRejectedLogps)),
        sortAscending(tf.sub(t.referenceChosenLogps, t.referenceRejectedLogps)),
      );
      return smoothedSigmoid(tf.mul(d, beta), eps);
    }
    case 'aot_unpaired': {
      const d = tf.sub(sortAscending(t.rhoC), sortAscending(t.rhoR));
      return smoothedSigmoid(tf.mul(d, beta), eps);
    }
    case 'apo_zero':
      return tf.add(
        tf.sub(1, tf.sigmoid(tf.mul(t.rhoC, beta))),
        tf.sigmoid(tf.mul(t.rhoR, beta)),
      ) as tf.Tensor1D;
    case 'apo_down':
      // The first term uses the raw log-ratio, the second the f-divergence score difference Δ, as
      // TRL's `DPOTrainer._compute_loss` (trl/trainer/dpo_trainer.py) does.
      return tf.add(
        tf.sigmoid(tf.mul(t.rhoC, beta)),
        tf.sub(1, tf.sigmoid(tf.mul(delta(), beta))),
      ) as tf.Tensor1D;
    case 'discopop': {
      // (1−m)(−log σ(z)) + m·e^{−z} with m = σ(z/τ); m·e^{−z} is evaluated as exp(log σ(z/τ) − z) so
      // that 0·∞ never happens in float32 when z ≪ 0.
      const z = tf.mul(delta(), beta);
      const zt = tf.div(z, t.tau);
      const logistic = tf.mul(tf.sigmoid(tf.neg(zt)), tf.neg(logSigmoid(z)));
      const expo = tf.exp(tf.sub(logSigmoid(zt), z));
      return tf.add(logistic, expo) as tf.Tensor1D;
    }
    case 'sigmoid_norm':
      return tf.neg(logSigmoid(tf.mul(normDelta(), beta))) as tf.Tensor1D;
  }
}

function checkSmoothing(type: DpoLossType, eps: number): void {
  switch (type) {
    case 'sigmoid':
    case 'aot':
    case 'aot_unpaired':
      assertNumber(WHERE, 'labelSmoothing', eps, { min: 0, max: 0.5 });
      return;
    case 'robust':
      assertNumber(WHERE, 'labelSmoothing', eps, { min: 0, lessThan: 0.5 });
      return;
    case 'exo_pair':
      assertNumber(WHERE, 'labelSmoothing', eps, { greaterThan: 0, lessThan: 1 });
      return;
    default:
      assertNumber(WHERE, 'labelSmoothing', eps, { min: 0, lessThan: 1 });
  }
}

/**
 * The DPO family of preference losses, with TRL's names, defaults and formulas (TRL
 * trl/trainer/dpo_trainer.py, `DPOTrainer._compute_loss`). With ρ = policy − reference summed log-probs, s = g(ρ) the
 * f-divergence transform (TRL's `_get_f_divergence_transform`), Δ = s_c − s_r and ε = `labelSmoothing`:
 *
 * | lossType | per-pair loss |
 * |---|---|
 * | sigmoid (DPO, cDPO) | −(1−ε) log σ(βΔ) − ε log σ(−βΔ) |
 * | hinge (SLiC) | relu(1 − βΔ) |
 * | ipo | (s_c/ℓ_c − s_r/ℓ_r − 1/(2β))², ℓ = max(length, 1) |
 * | exo_pair | σ(βΔ)[log σ(βΔ) − log(1−ε)] + σ(−βΔ)[log σ(−βΔ) − log ε] |
 * | nca_pair | −log σ(βs_c) − ½ log σ(−βs_c) − ½ log σ(−βs_r) |
 * | robust | [−(1−ε) log σ(βΔ) + ε log σ(−βΔ)] / (1−2ε) |
 * | bco_pair | −log σ(βs_c − δ) − log σ(−(βs_r − δ)) |
 * | sppo_hard | (s_c − 1/(2β))² + (s_r + 1/(2β))² |
 * | aot | d = sort(π_c − π_r) − sort(ref_c − ref_r) over the batch; −(1−ε) log σ(βd) − ε log σ(−βd) |
 * | aot_unpaired | d = sort(ρ_c) − sort(ρ_r); same form |
 * | apo_zero | 1 − σ(βρ_c) + σ(βρ_r) |
 * | apo_down | σ(βρ_c) + 1 − σ(βΔ) |
 * | discopop | z = βΔ, m = σ(z/τ): (1−m)(−log σ(z)) + m·e^{−z} |
 * | sigmoid_norm | −log σ(β(s_c/ℓ_c − s_r/ℓ_r)) |
 *
 * A list of loss types gives Σ_i w_i · loss_i (TRL `loss_type=[...]`, `loss_weights`); `weights`
 * multiplies the per-pair result (WPO). Rewards are β·ρ, detached (as TRL's). `aot`/`aot_unpaired`
 * sort over the batch with a gradient ({@link sortAscending}), so their per-pair losses are not
 * tied to the input order.
 *
 * @returns {@link PreferenceLoss}: `losses` [B], `loss` = mean, `chosenRewards`/`rejectedRewards` [B].
 * @throws GanpoError for a bad option (`beta` ≤ 0, ε out of its loss's range, unknown names), one
 *   reference without the other, missing lengths for `ipo`/`sigmoid_norm`, non-rank-1 / unequal-length /
 *   non-finite inputs.
 */
export function dpoLoss(args: DpoLossArgs): PreferenceLoss {
  assertArgs('dpoLoss', args, '{ policyChosenLogps, policyRejectedLogps, ... }');
  const {
    policyChosenLogps,
    policyRejectedLogps,
    referenceChosenLogps,
    referenceRejectedLogps,
    chosenLengths,
    rejectedLengths,
    beta = 0.1,
    lossType = 'sigmoid',
    lossWeights,
    labelSmoothing = 0,
    fDivergence = 'reverse_kl',
    alpha = 0.5,
    discopopTau = 0.05,
    bcoDelta = 0,
    weights,
  } = args;
  assertNumber(WHERE, 'beta', beta, { greaterThan: 0 });
  const types: readonly DpoLossType[] = typeof lossType === 'string' ? [lossType] : lossType;
  if (!Array.isArray(types) || types.length === 0) {
    throw argumentError(
      'INVALID_OPTION',
      WHERE,
      'lossType',
      'a loss type or a non-empty list',
      String(lossType),
    );
  }
  for (const type of types) assertOneOf(WHERE, 'lossType', type, DPO_LOSS_TYPES);
  if (lossWeights !== undefined) {
    if (!Array.isArray(lossWeights) || lossWeights.length !== types.length) {
      throw argumentError(
        'INVALID_OPTION',
        WHERE,
        'lossWeights',
        `an array of ${types.length} number(s), one per loss type`,
        Array.isArray(lossWeights) ? `length ${lossWeights.length}` : typeof lossWeights,
      );
    }
    for (const w of lossWeights) assertNumber(WHERE, 'lossWeights', w);
  }
  for (const type of types) checkSmoothing(type, labelSmoothing);
  assertOneOf(WHERE, 'fDivergence', fDivergence, F_DIVERGENCES);
  assertNumber(WHERE, 'alpha', alpha);
  assertNumber(WHERE, 'discopopTau', discopopTau, { greaterThan: 0 });
  assertNumber(WHERE, 'bcoDelta', bcoDelta);
  assertBothOrNeither(
    WHERE,
    ['referenceChosenLogps', referenceChosenLogps],
    ['referenceRejectedLogps', referenceRejectedLogps],
    'both reference log-probs or neither (reference-free)',
  );
  const needsLengths = types.filter((t) => t === 'ipo' || t === 'sigmoid_norm');
  if (needsLengths.length > 0) {
    for (const [name, v] of [
      ['chosenLengths', chosenLengths],
      ['rejectedLengths', rejectedLengths],
    ] as const) {
      if (v === undefined) {
        throw argumentError(
          'INVALID_ARGUMENT',
          WHERE,
          name,
          `a tensor [B] (required by '${needsLengths[0]}')`,
          'undefined',
        );
      }
    }
  }
  assertTensor(WHERE, 'policyChosenLogps', policyChosenLogps);
  assertTensor(WHERE, 'policyRejectedLogps', policyRejectedLogps);
  validatePairInputs(WHERE, [
    ['policyChosenLogps', policyChosenLogps],
    ['policyRejectedLogps', policyRejectedLogps],
    ['referenceChosenLogps', referenceChosenLogps],
    ['referenceRejectedLogps', referenceRejectedLogps],
  ]);
  validatePairInputs(
    WHERE,
    [
      ['policyChosenLogps', policyChosenLogps],
      ['chosenLengths', chosenLengths],
      ['rejectedLengths', rejectedLengths],
    ],
    ['float32', 'int32'],
    true,
  );
  validatePairInputs(
    WHERE,
    [
      ['policyChosenLogps', policyChosenLogps],
      ['weights', weights],
    ],
    ['float32'],
    true,
  );
  if (checksValues()) {
    if (chosenLengths) assertValueRange(WHERE, 'chosenLengths', chosenLengths, 0, Number.POSITIVE_INFINITY);
    if (rejectedLengths)
      assertValueRange(WHERE, 'rejectedLengths', rejectedLengths, 0, Number.POSITIVE_INFINITY);
    if (weights) assertValueRange(WHERE, 'weights', weights, 0, Number.POSITIVE_INFINITY);
  }

  return tidyObject(() => {
    const referenceChosen = referenceChosenLogps ?? (tf.zerosLike(policyChosenLogps) as tf.Tensor1D);
    const referenceRejected = referenceRejectedLogps ?? (tf.zerosLike(policyRejectedLogps) as tf.Tensor1D);
    const rhoC = tf.sub(policyChosenLogps, referenceChosen) as tf.Tensor1D;
    const rhoR = tf.sub(policyRejectedLogps, referenceRejected) as tf.Tensor1D;
    const terms: Terms = {
      beta,
      eps: labelSmoothing,
      tau: discopopTau,
      delta: bcoDelta,
      rhoC,
      rhoR,
      sC: fDivergenceTransform(rhoC, fDivergence, alpha),
      sR: fDivergenceTransform(rhoR, fDivergence, alpha),
      policyChosenLogps,
      policyRejectedLogps,
      referenceChosenLogps: referenceChosen,
      referenceRejectedLogps: referenceRejected,
      lenC: chosenLengths ? (tf.cast(chosenLengths, 'float32') as tf.Tensor1D) : undefined,
      lenR: rejectedLengths ? (tf.cast(rejectedLengths, 'float32') as tf.Tensor1D) : undefined,
    };
    let losses = types
      .map((type, i) => {
        const l = perPairLoss(type, terms);
        const w = lossWeights?.[i] ?? 1;
        return w === 1 ? l : (tf.mul(l, w) as tf.Tensor1D);
      })
      .reduce((acc, l) => tf.add(acc, l) as tf.Tensor1D);
    if (weights) losses = tf.mul(losses, weights) as tf.Tensor1D;
    return {
      losses,
      loss: tf.mean(losses) as tf.Scalar,
      chosenRewards: stopGradient(tf.mul(rhoC, beta) as tf.Tensor1D),
      rejectedRewards: stopGradient(tf.mul(rhoR, beta) as tf.Tensor1D),
    };
  });
}
