import * as tf from '@tensorflow/tfjs-core';
import { argumentError, GanpoError } from '../core/errors';
import { insideGradientTape } from '../core/tape-state';
import type { CausalLM } from './forward';

/** The frozen reference that `reference: 'initial'` builds; see {@link initialReference}. */
export interface InitialReference extends CausalLM {
  /** Frees the weight snapshot. */
  dispose(): void;
  /** The snapshot, in `policy.trainableVariables` order (owned by the reference; do not dispose). */
  weights(): readonly tf.Tensor[];
}

/**
 * The policy at its current weights, as a frozen reference that needs no second model instance:
 * the values of `policy.trainableVariables` are snapshotted now, and each `forward` runs the
 * policy's own forward (`training: false`) with the snapshot swapped into its variables, restoring
 * the live values afterwards (also when the forward throws). Swapping re-points the variables at
 * the snapshot's buffers; no weight data are copied per call.
 *
 * Must not run inside a gradient pass over the policy (tfjs gradient functions read variables when
 * the backward pass runs, so a swap there would corrupt the policy's gradient); it throws then.
 * Non-trainable variables (e.g. batch-norm moving statistics) are not snapshotted.
 *
 * @throws GanpoError INVALID_ARGUMENT when the policy has no trainable variables.
 */
export function initialReference(policy: CausalLM, where: string): InitialReference {
  const variables = policy.trainableVariables;
  if (variables.length === 0) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      'policy',
      'a CausalLM with trainable variables (for the weight snapshot)',
      'trainableVariables = []',
    );
  }
  // tf.clone shares the buffer (a reference count): the snapshot costs no copy until the optimizer
  // replaces the variables' values.
  let snapshot: tf.Tensor[] | null = variables.map((v) => tf.keep(tf.clone(v)));
  return {
    trainableVariables: [],
    forward(inputIds, options) {
      if (snapshot === null) {
        throw argumentError('DISPOSED', `${where} reference`, 'this', 'a live reference', 'a disposed one');
      }
      if (insideGradientTape()) {
        throw new GanpoError(
          'INVALID_STATE',
          `${where}: the 'initial' reference swaps the policy's weights and cannot run inside a gradient pass`,
        );
      }
      const live = variables.map((v) => tf.keep(tf.clone(v)));
      const frozen = snapshot;
      try {
        variables.forEach((v, i) => {
          v.assign(frozen[i] as tf.Tensor);
        });
        return policy.forward(inputIds, { ...options, training: false });
      } finally {
        variables.forEach((v, i) => {
          v.assign(live[i] as tf.Tensor);
        });
        tf.dispose(live);
      }
    },
    dispose() {
      if (snapshot) tf.dispose(snapshot);
      snapshot = null;
    },
    weights() {
      if (snapshot === null) {
        throw argumentError('DISPOSED', `${where} reference`, 'this', 'a live reference', 'a disposed one');
      }
      return snapshot;
    },
  };
}
