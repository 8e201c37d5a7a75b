import * as tf from '@tensorflow/tfjs-core';
import { argumentError, GanpoError } from '../core/errors';
import { assertArgs, assertFinite, assertRank, assertTensor } from '../core/validate';
import type { PreferenceLoss } from '../losses/types';
import { type AdversarialLossArgs, GanpoRegularizer } from './ganpo-regularizer';

/** ganpoLoss's argument names for those of {@link GanpoRegularizer.adversarialLoss}. */
const OUTER_NAMES: readonly [string, string][] = [
  ['policyChosen', 'policyChosenLatents'],
  ['policyRejected', 'policyRejectedLatents'],
  ['referenceChosen', 'referenceChosenLatents'],
  ['referenceRejected', 'referenceRejectedLatents'],
];

/**
 * A GanpoError of `adversarialLoss` restated in ganpoLoss's terms: its name and the caller's argument
 * names (`policyChosenLatents`, not `policyChosen`), same code, expected and received values.
 */
function withOuterNames(e: unknown, where: string): unknown {
  if (!(e instanceof GanpoError)) return e;
  const rename = (text: string | undefined): string | undefined => {
    if (text === undefined) return undefined;
    let out = text.replace(/^GanpoRegularizer\.adversarialLoss/, where);
    for (const [inner, outer] of OUTER_NAMES) out = out.replaceAll(`'${inner}'`, `'${outer}'`);
    return out;
  };
  const argument = OUTER_NAMES.find(([inner]) => inner === e.argument)?.[1] ?? e.argument;
  return new GanpoError(e.code, rename(e.message) as string, {
    argument,
    expected: rename(e.expected),
    received: rename(e.received),
  });
}

/** Arguments of {@link ganpoLoss}. */
export interface GanpoLossArgs {
  /** The regularizer holding the discriminators and their means (after a discriminator step). */
  regularizer: GanpoRegularizer;
  /** Any preference loss of this package (DPO family, SimPO, ORPO), or a scalar loss. */
  preference: PreferenceLoss | tf.Scalar;
  /** Policy hidden states of prompt+chosen [B,Tc,H], with gradient to the policy. */
  policyChosenLatents: tf.Tensor3D;
  /** Policy hidden states of prompt+rejected [B,Tr,H]. */
  policyRejectedLatents: tf.Tensor3D;
  /** [B,Tc] 0/1; omitted = all positions (the official code passes no mask). */
  chosenMask?: tf.Tensor2D;
  /** [B,Tr] 0/1. */
  rejectedMask?: tf.Tensor2D;
  /**
   * Reference latents [B,Tc,H] of the batch (constants); used by the `'batch'` estimator only, see
   * {@link AdversarialLossArgs.referenceChosen}.
   */
  referenceChosenLatents?: tf.Tensor3D;
  /** Reference latents [B,Tr,H]; see `referenceChosenLatents`. */
  referenceRejectedLatents?: tf.Tensor3D;
}

/** Output of {@link ganpoLoss}: new tensors the caller owns. */
export interface GanpoLossOutput {
  /** L = L_pref + λ·L_adv, scalar; differentiate this. */
  loss: tf.Scalar;
  /** L_pref, scalar. */
  preferenceLoss: tf.Scalar;
  /** L_adv (before the weight λ), scalar. */
  adversarialLoss: tf.Scalar;
}

/**
 * The GANPO objective (arXiv 2601.22083, eq. "L_OPO + λ·D_Ra"):
 *
 *     loss = L_pref + λ · ½[ℓreal(D_w(h_θ^w) − m_w,ref) + ℓreal(D_l(h_θ^l) − m_l,ref)]
 *
 * where L_pref is any offline preference loss (its `loss` field, or the scalar given) and λ is
 * `regularizer.weight`. Use it inside `tf.variableGrads(() => ganpoLoss(...).loss, policyVariables)`
 * after `regularizer.discriminatorStep(...)` on the same batch.
 *
 * @returns `{ loss, preferenceLoss, adversarialLoss }`, scalars the caller owns.
 * @throws GanpoError on a missing regularizer, a preference that is neither a PreferenceLoss nor a
 *   scalar, a non-finite preference loss, and whatever {@link GanpoRegularizer.adversarialLoss} rejects.
 */
export function ganpoLoss(args: GanpoLossArgs): GanpoLossOutput {
  const where = 'ganpoLoss';
  assertArgs(where, args, '{ regularizer, preference, ... }');
  if (!(args.regularizer instanceof GanpoRegularizer)) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      'regularizer',
      'a GanpoRegularizer',
      typeof args.regularizer,
    );
  }
  const pref = args.preference;
  const prefScalar =
    pref instanceof tf.Tensor
      ? pref
      : pref !== null && typeof pref === 'object'
        ? (pref as PreferenceLoss).loss
        : undefined;
  if (!(prefScalar instanceof tf.Tensor)) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      'preference',
      'a PreferenceLoss or a scalar tensor',
      typeof pref,
    );
  }
  assertTensor(where, 'preference', prefScalar);
  assertRank(where, 'preference', prefScalar, 0);
  assertFinite(where, 'preference', prefScalar);
  let adversarialLoss: tf.Scalar;
  try {
    adversarialLoss = args.regularizer.adversarialLoss({
      policyChosen: args.policyChosenLatents,
      policyRejected: args.policyRejectedLatents,
      chosenMask: args.chosenMask,
      rejectedMask: args.rejectedMask,
      referenceChosen: args.referenceChosenLatents,
      referenceRejected: args.referenceRejectedLatents,
    });
  } catch (e) {
    throw withOuterNames(e, where);
  }
  const weight = args.regularizer.weight;
  return tf.tidy(() => ({
    loss: tf.add(prefScalar, tf.mul(adversarialLoss, weight)) as tf.Scalar,
    preferenceLoss: tf.clone(prefScalar) as tf.Scalar,
    adversarialLoss,
  }));
}
