// The fixture cases of the critic-free latent losses (tools/reference/latent_anchor.py,
// latent_mmd.py): a LatentBatch, the loss, and its gradients with respect to the policy latents.
import * as tf from '@tensorflow/tfjs-core';
import type { LatentBatch } from 'ganpo';

export interface LatentCase {
  name: string;
  policyChosenLatents: number[][][];
  policyRejectedLatents: number[][][];
  referenceChosenLatents: number[][][];
  referenceRejectedLatents: number[][][];
  chosenMask?: number[][];
  rejectedMask?: number[][];
  loss: number;
  gradPolicyChosen: number[][][];
  gradPolicyRejected: number[][][];
}

/** The case's LatentBatch as tensors (the caller disposes them). */
export function latentCaseBatch(c: LatentCase): LatentBatch {
  return {
    policyChosenLatents: tf.tensor3d(c.policyChosenLatents),
    policyRejectedLatents: tf.tensor3d(c.policyRejectedLatents),
    referenceChosenLatents: tf.tensor3d(c.referenceChosenLatents),
    referenceRejectedLatents: tf.tensor3d(c.referenceRejectedLatents),
    ...(c.chosenMask ? { chosenMask: tf.tensor2d(c.chosenMask) } : {}),
    ...(c.rejectedMask ? { rejectedMask: tf.tensor2d(c.rejectedMask) } : {}),
  };
}
