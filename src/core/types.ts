import type * as tf from '@tensorflow/tfjs-core';

// The types the data, hooks and trainer layers share (a model, a preference pair), below all three.

/**
 * One preference example as token ids (tokenizer-agnostic): a prompt and two responses to it, the
 * preferred one (`chosen`) and the dispreferred one (`rejected`). Responses exclude the EOS token
 * (the collator appends it, as TRL does).
 */
export interface PreferencePair {
  prompt: readonly number[];
  chosen: readonly number[];
  rejected: readonly number[];
}

/**
 * What the trainer needs of a causal language model: one forward pass that returns the logits and
 * the last hidden state (GANPO's latent), and the variables to train. `logits[:, t]` predicts
 * `inputIds[:, t+1]`. Inputs are right-padded, so a causal model needs no attention mask.
 */
export interface CausalLM {
  /**
   * One forward pass: logits [B,T,V] and last hidden state [B,T,H] of right-padded ids [B,T].
   * `training: true` asks for dropout; the trainer passes it only to the policy's gradient pass
   * with `disableDropout: false`.
   */
  forward(
    inputIds: tf.Tensor2D,
    options: { training: boolean },
  ): { logits: tf.Tensor3D; hidden: tf.Tensor3D };
  readonly trainableVariables: tf.Variable[];
  /** A deep copy with its own weights; needed only for the trainer's `model.reference: 'copy'`. */
  clone?(): CausalLM;
  /** Frees the model's weights; called on a copy the trainer made, never on the user's models. */
  dispose?(): void;
}
