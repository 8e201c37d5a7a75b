import * as tf from '@tensorflow/tfjs-core';

/**
 * The divergence behind a relativistic average GAN loss (Jolicoeur-Martineau 2018,
 * AlexiaJM/RelativisticGAN): `'sgan'` (RaSGAN, log-sigmoid / BCE-with-logits; the official GANPO
 * code), `'lsgan'` (RaLSGAN, least squares) or `'hinge'` (RaHingeGAN).
 */
export type Divergence = 'sgan' | 'lsgan' | 'hinge';

/** The accepted {@link Divergence} values, for validation. */
export const DIVERGENCES: readonly Divergence[] = ['sgan', 'lsgan', 'hinge'];

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
export function realLoss(z: tf.Tensor, divergence: Divergence): tf.Tensor {
  switch (divergence) {
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
export function fakeLoss(z: tf.Tensor, divergence: Divergence): tf.Tensor {
  switch (divergence) {
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
export function chanceLevel(divergence: Divergence): number {
  return divergence === 'sgan' ? Math.LN2 : 1;
}
