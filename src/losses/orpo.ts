import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { tidyObject } from '../core/tidy-object';
import {
  assertArgs,
  assertFinite,
  assertNumber,
  assertRank,
  assertSameLength,
  assertTensor,
  assertValueRange,
} from '../core/validate';
import { logSigmoid } from '../ops/log-sigmoid';
import { stopGradient } from '../ops/stop-gradient';
import { validatePairInputs } from './pair-inputs';
import type { PreferenceLoss } from './types';

/** Mean log-probs are clamped to at most this before log(1 − e^x), which is −∞ at x = 0. */
export const ORPO_MAX_LOGP = -1e-7;

/** Arguments of {@link orpoLoss}. Log-probs are **per-token mean** log-probs [B], float32, ≤ 0. @inline */
export interface OrpoLossArgs {
  policyChosenLogps: tf.Tensor1D;
  policyRejectedLogps: tf.Tensor1D;
  /** λ, weight of the odds-ratio term, > 0. Default 0.1 (TRL `ORPOConfig.beta`). */
  beta?: number;
  /**
   * The SFT term: a scalar (TRL's token-level mean NLL over all chosen tokens, see {@link nllLoss})
   * or per-pair values [B]. Default −policyChosenLogps (per-sequence mean NLL; equals TRL's when all
   * chosen responses have the same length).
   */
  chosenNll?: tf.Scalar | tf.Tensor1D;
}

/** {@link PreferenceLoss} plus ORPO's metrics (TRL keys `log_odds_ratio`, `log_odds_chosen`, `nll_loss`). */
export interface OrpoLoss extends PreferenceLoss {
  /** mean log σ(log-odds), scalar (TRL `log_odds_ratio`). */
  logOddsRatio: tf.Scalar;
  /** mean log-odds, scalar (TRL `log_odds_chosen`). */
  logOddsChosen: tf.Scalar;
  /** mean of the SFT term, scalar (TRL `nll_loss`). */
  nllLoss: tf.Scalar;
}

/**
 * log(1 − eˣ) for x < 0, stable everywhere (Mächler 2012, "Accurately computing log(1 − exp(−|a|))"):
 * log(−expm1(x)) for x > −ln 2, log1p(−eˣ) below. tfjs has no expm1, so −expm1(x) is computed as
 * −2·tanh(x/2)/(1 − tanh(x/2)), which is exact algebra and keeps full precision near 0.
 *
 * A custom gradient, d/dx = −eˣ/(1 − eˣ), because the branch selection (`tf.where` on `x > −ln 2`)
 * would otherwise ask tfjs for a gradient of `greater`, which it does not have.
 *
 * @param x - float tensor, values < 0 (x = 0 gives −∞).
 */
export function log1mexp(x: tf.Tensor): tf.Tensor {
  assertTensor('log1mexp', 'x', x);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const t = tf.tanh(tf.mul(input, 0.5));
    const oneMinusExp = tf.div(tf.mul(t, -2), tf.sub(1, t)); // 1 − eˣ
    const nearZero = tf.log(oneMinusExp);
    const farFromZero = tf.log1p(tf.neg(tf.exp(input)));
    const value = tf.where(tf.greater(input, -Math.LN2), nearZero, farFromZero);
    save([input, oneMinusExp]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, om] = saved as [tf.Tensor, tf.Tensor];
        return tf.tidy(() => tf.mul(dy, tf.neg(tf.div(tf.exp(xs), om))));
      },
    };
  });
  return f(x);
}

/**
 * ORPO, odds-ratio preference optimisation (Hong, Lee, Thorne 2024, arXiv 2403.07691; TRL
 * `ORPOTrainer.odds_ratio_loss`). With mean log-probs ā (so P = e^ā):
 *
 *     log-odds = (ā_c − ā_r) − (log(1 − e^{ā_c}) − log(1 − e^{ā_r}))
 *     losses   = nll − λ · log σ(log-odds)
 *
 * log(1 − eˣ) uses a stable log1mexp; ā is clamped to ≤ −1e-7 first so a response with
 * probability 1 gives a large finite log-odds instead of ∞. Rewards are λ·ā (detached, TRL).
 *
 * @returns {@link OrpoLoss}: `losses` [B], `loss` = mean (TRL's `policy_nll_loss − λ·mean ratio` when
 *   `chosenNll` is TRL's scalar), rewards, and the log-odds metrics.
 * @throws GanpoError for `beta` ≤ 0, positive log-probs, non-rank-1 / unequal-length / non-finite inputs.
 */
export function orpoLoss(args: OrpoLossArgs): OrpoLoss {
  const where = 'orpoLoss';
  assertArgs(where, args, '{ policyChosenLogps, policyRejectedLogps, ... }');
  const { policyChosenLogps, policyRejectedLogps, beta = 0.1, chosenNll } = args;
  assertNumber(where, 'beta', beta, { greaterThan: 0 });
  assertTensor(where, 'policyChosenLogps', policyChosenLogps);
  assertTensor(where, 'policyRejectedLogps', policyRejectedLogps);
  validatePairInputs(where, [
    ['policyChosenLogps', policyChosenLogps],
    ['policyRejectedLogps', policyRejectedLogps],
  ]);
  assertValueRange(where, 'policyChosenLogps', policyChosenLogps, Number.NEGATIVE_INFINITY, 1e-6);
  assertValueRange(where, 'policyRejectedLogps', policyRejectedLogps, Number.NEGATIVE_INFINITY, 1e-6);
  if (chosenNll !== undefined) {
    assertRank(where, 'chosenNll', chosenNll, [0, 1]);
    if (chosenNll.rank === 1) {
      assertSameLength(where, [
        ['policyChosenLogps', policyChosenLogps],
        ['chosenNll', chosenNll],
      ]);
    } else if (chosenNll.dtype !== 'float32') {
      throw argumentError('INVALID_DTYPE', where, 'chosenNll', 'dtype float32', `dtype ${chosenNll.dtype}`);
    }
    assertFinite(where, 'chosenNll', chosenNll);
  }
  return tidyObject(() => {
    const c = tf.minimum(policyChosenLogps, ORPO_MAX_LOGP);
    const r = tf.minimum(policyRejectedLogps, ORPO_MAX_LOGP);
    const logOdds = tf.sub(tf.sub(c, r), tf.sub(log1mexp(c), log1mexp(r)));
    const ratio = logSigmoid(logOdds);
    const nll = chosenNll ?? tf.neg(policyChosenLogps);
    const losses = tf.sub(nll, tf.mul(ratio, beta)) as tf.Tensor1D;
    return {
      losses,
      loss: tf.mean(losses) as tf.Scalar,
      chosenRewards: stopGradient(tf.mul(policyChosenLogps, beta) as tf.Tensor1D),
      rejectedRewards: stopGradient(tf.mul(policyRejectedLogps, beta) as tf.Tensor1D),
      logOddsRatio: tf.mean(ratio) as tf.Scalar,
      logOddsChosen: tf.mean(logOdds) as tf.Scalar,
      nllLoss: tf.mean(nll) as tf.Scalar,
    };
  });
}
