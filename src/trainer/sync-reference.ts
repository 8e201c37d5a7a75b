import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertNumber, fmtShape } from '../core/validate';

const WHERE = 'syncReference';

/**
 * TR-DPO's reference update (Gorbatovski et al. 2024, arXiv 2404.09656), as TRL's
 * `SyncRefModelCallback._sync_target_model` (trl/trainer/callbacks.py) applies it to every parameter:
 *
 *     θ_ref ← α·θ + (1 − α)·θ_ref        (TRL: target.mul_(1 − α).add_(θ, alpha=α))
 *
 * α = 1 is the hard update (copy the policy), 0 < α < 1 the soft one. TRL's `DPOConfig` defaults are
 * `ref_model_mixup_alpha` 0.6 and `ref_model_sync_steps` 512: call this every k-th optimizer step in
 * your own loop (`GanpoTrainer` does it with `syncRefModel: true`). The i-th reference variable
 * follows the i-th policy variable; the shapes must match pair by pair. The reference's latents and
 * log-probs then follow the synced reference, so a precomputed reference cache is stale after a sync.
 *
 * All-or-nothing: everything is checked before the first variable is assigned. No tensor is left
 * behind.
 *
 * @param policy The policy's variables θ (read only).
 * @param reference The reference's variables θ_ref, assigned in place.
 * @param alpha α in [0, 1]. Default 0.6 (TRL `DPOConfig.ref_model_mixup_alpha`).
 * @throws GanpoError for α outside [0, 1], lists of different lengths, a pair of different shapes or
 *   dtypes, a variable present in both lists or twice in one, or a disposed variable.
 */
export function syncReference(
  policy: readonly tf.Variable[],
  reference: readonly tf.Variable[],
  alpha = 0.6,
): void {
  assertNumber(WHERE, 'alpha', alpha, { min: 0, max: 1 });
  if (!Array.isArray(policy) || !Array.isArray(reference)) {
    throw argumentError(
      'INVALID_ARGUMENT',
      WHERE,
      'reference',
      'two arrays of tf.Variable',
      typeof reference,
    );
  }
  if (policy.length !== reference.length) {
    throw argumentError(
      'SHAPE_MISMATCH',
      WHERE,
      'reference',
      `${policy.length} variables (one per policy variable)`,
      `${reference.length}`,
    );
  }
  const policySet = new Set<tf.Variable>(policy);
  const seen = { policy: new Map<tf.Variable, number>(), reference: new Map<tf.Variable, number>() };
  reference.forEach((r, i) => {
    const p = policy[i] as tf.Variable;
    for (const [name, v] of [
      [`policy[${i}]`, p],
      [`reference[${i}]`, r],
    ] as const) {
      if (!(v instanceof tf.Variable)) {
        throw argumentError('INVALID_ARGUMENT', WHERE, name, 'a tf.Variable', typeof v);
      }
      if (v.isDisposed) throw argumentError('DISPOSED', WHERE, name, 'a live variable', 'a disposed one');
    }
    // Each variable once in each list: a repeated reference variable would take two policy
    // variables' values in turn, a repeated policy variable would feed two reference variables.
    for (const [list, v] of [
      ['policy', p],
      ['reference', r],
    ] as const) {
      const first = seen[list].get(v);
      if (first !== undefined) {
        throw argumentError(
          'INVALID_ARGUMENT',
          WHERE,
          `${list}[${i}]`,
          'a variable listed once',
          `the variable of ${list}[${first}] ('${v.name}') again`,
        );
      }
      seen[list].set(v, i);
    }
    if (policySet.has(r)) {
      throw argumentError(
        'INVALID_ARGUMENT',
        WHERE,
        `reference[${i}]`,
        'a variable distinct from every policy variable',
        `policy variable '${r.name}'`,
      );
    }
    if (!tf.util.arraysEqual(p.shape, r.shape) || p.dtype !== r.dtype) {
      throw argumentError(
        'SHAPE_MISMATCH',
        WHERE,
        `reference[${i}]`,
        `shape ${fmtShape(p.shape)} ${p.dtype} (that of policy[${i}])`,
        `shape ${fmtShape(r.shape)} ${r.dtype}`,
      );
    }
  });
  if (alpha === 0) return;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i] as tf.Variable;
    const p = policy[i] as tf.Variable;
    const next = tf.tidy(() => (alpha === 1 ? tf.clone(p) : tf.add(tf.mul(r, 1 - alpha), tf.mul(p, alpha))));
    r.assign(next);
    next.dispose();
  }
}
