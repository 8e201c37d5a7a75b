import * as tf from '@tensorflow/tfjs-core';
import { assertOneOf } from '../core/validate';

/**
 * The GAN loss of a relativistic average discriminator (Jolicoeur-Martineau 2018): `'sgan'` (RaSGAN,
 * log-sigmoid / BCE-with-logits; the official GANPO code's `disc_criterion = nn.BCEWithLogitsLoss()`
 * in `QuadGANDPOTrainer`, GANPO_trl.py), `'lsgan'` (RaLSGAN, least squares) or `'hinge'`
 * (RaHingeGAN). AlexiaJM/RelativisticGAN (code/GAN_losses_iter.py) chooses among the same losses
 * with its `--loss_D` option ("Loss of D": 6 = RaSGAN, 7 = RaLSGAN, 8 = RaHingeGAN), hence the name:
 * a choice of loss, not of the f-divergence of f-DPO (`FDivergence`).
 */
export type GanLoss = 'sgan' | 'lsgan' | 'hinge';

/** The accepted {@link GanLoss} values, for validation. */
export const GAN_LOSSES: readonly GanLoss[] = ['sgan', 'lsgan', 'hinge'];

/**
 * The checked GAN loss of an arguments object's `ganLoss` (default `'sgan'`).
 *
 * @throws GanpoError `INVALID_OPTION` for a value outside {@link GAN_LOSSES}.
 */
export function resolveGanLoss(where: string, ganLoss: unknown): GanLoss {
  return assertOneOf(where, 'ganLoss', ganLoss ?? 'sgan', GAN_LOSSES);
}

/**
 * ℓreal(z): the per-sample loss that pushes a relativistic logit z up ("this sample looks more real
 * than the other set on average").
 *
 * - sgan: softplus(−z) = −log σ(z)
 * - lsgan: (z − 1)²
 * - hinge: relu(1 − z)
 *
 * @param z - float tensor of relativistic logits, any shape.
 * @returns the elementwise loss, same shape.
 */
export function realLoss(z: tf.Tensor, ganLoss: GanLoss): tf.Tensor {
  switch (ganLoss) {
    case 'sgan':
      return tf.softplus(tf.neg(z));
    case 'lsgan':
      return tf.square(tf.sub(z, 1));
    case 'hinge':
      return tf.relu(tf.sub(1, z));
  }
}

/**
 * ℓfake(z): the mirror of {@link realLoss}, pushing z down.
 *
 * - sgan: softplus(z) = −log(1 − σ(z))
 * - lsgan: (z + 1)²
 * - hinge: relu(1 + z)
 */
export function fakeLoss(z: tf.Tensor, ganLoss: GanLoss): tf.Tensor {
  switch (ganLoss) {
    case 'sgan':
      return tf.softplus(z);
    case 'lsgan':
      return tf.square(tf.add(z, 1));
    case 'hinge':
      return tf.relu(tf.add(z, 1));
  }
}

/**
 * The ½-form discriminator loss of a critic that cannot tell the two sets apart (every relativistic
 * logit is 0): ½[ℓreal(0) + ℓfake(0)] = log 2 (sgan), 1 (lsgan), 1 (hinge). The divergence
 * estimate is measured against this level.
 */
export function chanceLevel(ganLoss: GanLoss): number {
  return ganLoss === 'sgan' ? Math.LN2 : 1;
}
