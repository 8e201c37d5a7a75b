import type * as tf from '@tensorflow/tfjs-core';

/** Options of {@link Discriminator.apply}. */
export interface DiscriminatorApplyOptions {
  /** [B,T] 0/1 key-padding + pooling mask; omitted = plain mean over all positions (official code). */
  mask?: tf.Tensor2D;
  /** Training mode: dropout on, one spectral-norm power iteration (updates u, v). Default false. */
  training?: boolean;
}

/** A critic over latent sequences: hidden states [B,T,D] → one score per sequence. */
export interface Discriminator {
  readonly latentDim: number;
  /** hidden [B,T,D] → scores [B]; differentiable w.r.t. hidden and the trainable variables. */
  apply(hidden: tf.Tensor3D, options?: DiscriminatorApplyOptions): tf.Tensor1D;
  /**
   * Optional: the critic's last hidden layer [B,F] (the input of its final Linear), same options as
   * `apply`; used by the feature-matching generator. Both built-in discriminators have it.
   */
  features?(hidden: tf.Tensor3D, options?: DiscriminatorApplyOptions): tf.Tensor2D;
  /** Trainable weights only (spectral-norm u, v excluded). Unique names per instance. */
  readonly trainableVariables: tf.Variable[];
  /** Copies of all persistent state under PyTorch state-dict names (caller disposes). */
  stateDict(): Record<string, tf.Tensor>;
  /** Loads (copies) the given state; strict by default. */
  loadStateDict(state: Record<string, tf.Tensor>, options?: { strict?: boolean }): void;
  /** Frees every variable of the discriminator. */
  dispose(): void;
}
