import * as tf from '@tensorflow/tfjs-core';
import { logSigmoid } from '../ops/log-sigmoid';

/**
 * The label-smoothed sigmoid loss of a scaled margin x, −(1−ε) log σ(x) − ε log σ(−x): DPO's
 * `sigmoid` loss with conservative-DPO smoothing (TRL `DPOTrainer.dpo_loss`) and SimPO's
 * (princeton-nlp/SimPO `SimPOTrainer.simpo_loss`). With ε = 0 it is −log σ(x). Call inside a tidy.
 */
export function smoothedSigmoid(x: tf.Tensor1D, eps: number): tf.Tensor1D {
  const pos = tf.neg(logSigmoid(x));
  if (eps === 0) return pos;
  return tf.add(tf.mul(pos, 1 - eps), tf.mul(tf.neg(logSigmoid(tf.neg(x))), eps)) as tf.Tensor1D;
}
