import type { SetName } from './means';

/**
 * Internal: the order of the three training-mode calls of each discriminator in
 * `GanpoRegularizer.discriminatorStep`. Each training-mode call of a spectral-norm discriminator
 * advances its power iteration (u, v), so the scores, the gradients and the next u depend on this
 * order. It is the order of the official `compute_loss_disc` (GANPO_trl.py of enyijiang/GANPO,
 * commit 58ca06d):
 *
 *     D_w: policy chosen, reference chosen, reference rejected   → policy, reference, opposite
 *     D_l: policy rejected, reference chosen, reference rejected → policy, opposite, reference
 *
 * (for D_l the "reference" set is the reference's rejected latents and the "opposite" set the
 * reference's chosen ones). Mutable only so that a test can show that another order is detected.
 */
export const DISCRIMINATOR_CALL_ORDER: Record<'chosen' | 'rejected', SetName[]> = {
  chosen: ['policy', 'reference', 'opposite'],
  rejected: ['policy', 'opposite', 'reference'],
};
