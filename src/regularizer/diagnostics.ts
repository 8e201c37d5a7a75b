import * as tf from '@tensorflow/tfjs-core';
import { log } from '../core/log';
import type { SetMeans } from '../divergence/ganpo-relativistic';
import { SETS, SIDES, type SixValues } from './means';
import type { PerSide } from './types';

/**
 * Share of pairs the critic orders correctly: over rows i, where both latents come from the same
 * input sequence, 1 when D(h_ref,i) > D(h_θ,i), ½ on a tie, 0 otherwise:
 *
 *     accuracy = mean_i (1[reference_i > policy_i] + ½·1[reference_i = policy_i])
 *
 * 0.5 is chance (a critic that cannot tell the policy's latents from the reference's); 1 means it
 * ranks every reference latent above its policy counterpart. Ties count ½, as in a rank statistic
 * (the probability that a random pair is ordered correctly, AUC-style): a critic that gives both
 * the same score (a constant critic, or policy = reference) reads chance, not 0.
 *
 * @param reference - scores of the reference latents, float [B].
 * @param policy - scores of the policy latents of the same sequences, float [B].
 * @returns a float scalar the caller owns (no gradient: it is a count).
 */
export function criticAccuracy(reference: tf.Tensor1D, policy: tf.Tensor1D): tf.Scalar {
  return tf.tidy(
    () =>
      tf.mean(
        tf.add(
          tf.cast(tf.greater(reference, policy), 'float32'),
          tf.mul(tf.cast(tf.equal(reference, policy), 'float32'), 0.5),
        ),
      ) as tf.Scalar,
  );
}

/**
 * Sums behind the latent-drift statistic of one side: Σ m·‖h_θ − h_ref‖² and Σ m·‖h_ref‖² over the
 * positions of the batch (m the attention mask, all ones without one). The drift of a step is
 * (Σ numerators) / (Σ denominators) over both sides: the relative squared distance of the policy's
 * latents from the reference's on the same sequences, 0 while the policy equals its reference.
 *
 * @param policy - policy latents [B,T,H] (constants).
 * @param reference - reference latents [B,T,H] of the same sequences.
 * @param mask - optional [B,T] 0/1.
 * @returns `[numerator, denominator]` as a float tensor [2] the caller owns.
 */
export function driftSums(policy: tf.Tensor3D, reference: tf.Tensor3D, mask?: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    let num = tf.sum(tf.square(tf.sub(policy, reference)), -1);
    let den = tf.sum(tf.square(reference), -1);
    if (mask) {
      const m = tf.cast(mask, 'float32');
      num = tf.mul(num, m);
      den = tf.mul(den, m);
    }
    return tf.stack([tf.sum(num), tf.sum(den)]) as tf.Tensor1D;
  });
}

/** What one discriminator step tells about the regularizer (plain numbers). */
export interface GanpoDiagnostics {
  /**
   * Per side, the share of pairs with D(reference) > D(policy) on this step's batch, ties counting
   * ½ (scores before the update). 0.5 = chance.
   */
  criticAccuracy: PerSide<number>;
  /**
   * The divergence estimate 2·(chance − L_D) averaged over both critics (= 2·chance − L_D,w − L_D,l),
   * 0 at chance, positive when the critics separate reference from policy latents.
   */
  divergence: number;
  /**
   * Σ‖h_θ − h_ref‖² / Σ‖h_ref‖² over this step's chosen and rejected latents (masked positions
   * only): the relative squared distance of the policy's latents from its reference's. Computed from
   * the latents the step already has (no extra forward).
   */
  drift: number;
}

/** The six batch means and the diagnostics of one step, read back together. */
export interface StepReadBack {
  batchMeans: SixValues;
  accuracy: PerSide<number>;
  driftRatio: number;
}

/**
 * Reads back, with one `dataSync`, the six batch means of the scores, the per-side critic accuracy
 * and the drift ratio (from `drift`, the stacked {@link driftSums} of both sides, [4]).
 */
export function readStep(scores: PerSide<SetMeans<tf.Tensor1D>>, drift: tf.Tensor1D): StepReadBack {
  const stacked = tf.tidy(() =>
    tf.concat([
      tf.stack(SIDES.flatMap((side) => SETS.map((set) => tf.mean(scores[side][set])))),
      tf.stack(SIDES.map((side) => criticAccuracy(scores[side].reference, scores[side].policy))),
      drift,
    ]),
  );
  const values = stacked.dataSync();
  stacked.dispose();
  const batchMeans = {} as SixValues;
  let k = 0;
  for (const side of SIDES) {
    batchMeans[side] = {} as SetMeans<number>;
    for (const set of SETS) batchMeans[side][set] = values[k++] as number;
  }
  const accuracy = { chosen: values[6] as number, rejected: values[7] as number };
  const num = (values[8] as number) + (values[10] as number);
  const den = (values[9] as number) + (values[11] as number);
  return { batchMeans, accuracy, driftRatio: den > 0 ? num / den : 0 };
}

/** Thresholds of {@link DiagnosticsMonitor}. */
export const MONITOR = {
  /** Steps a condition must hold before a warning. */
  window: 50,
  /** Divergence estimate below which the critics count as at chance (critic loss within 0.01 of chance). */
  chanceDivergence: 0.02,
  /** Drift growth over the window that counts as "growing". */
  driftGrowth: 2,
  /** Smallest drift worth a warning. */
  minDrift: 1e-3,
  /** Relative fall of the preference loss over the window below which it counts as stalled. */
  stallFall: 0.01,
  /** Share of the window's steps with a critic below its loss floor that counts as "at the floor". */
  floorShare: 0.5,
} as const;

const DOCS = 'docs/troubleshooting.md in the ganpo package';

/**
 * Watches a regularizer's steps and warns once (through the library's logger, see `setLogger`; once
 * per regularizer and kind) when
 * it is not doing its job:
 *
 * - **critic at chance while drift grows**: over the last {@link MONITOR}.window discriminator steps
 *   the mean divergence estimate stayed below `chanceDivergence` while the drift grew by
 *   `driftGrowth`× (and is above `minDrift`);
 * - **critic at its loss floor while drift grows**: in at least `floorShare` of the last `window`
 *   discriminator steps a critic's loss was below the loss floor (it separates policy from
 *   reference almost perfectly, so it skipped its update) while the drift grew by `driftGrowth`×
 *   from above `minDrift`; the regularizer reports the floor only when its policy term reads the
 *   live critics (`targetDecay` 0), where this preceded runaway drift;
 * - **adversarial term dominates**: over the last `window` observed policy steps the preference loss
 *   fell by less than `stallFall` (relative, first vs last 10 steps) while λ·L_adv was at least as
 *   large as it.
 */
export class DiagnosticsMonitor {
  private readonly divergences: number[] = [];
  private readonly drifts: number[] = [];
  private readonly preference: number[] = [];
  private readonly weighted: number[] = [];
  private readonly floors: number[] = [];
  private readonly warned = new Set<'chance' | 'floor' | 'dominates'>();

  /** Which warnings were given so far. */
  get warnings(): readonly string[] {
    return [...this.warned];
  }

  private warn(kind: 'chance' | 'floor' | 'dominates', message: string): void {
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    log('warn', message);
  }

  /**
   * Records one discriminator step's diagnostics; `atFloor`: a critic's loss was below its loss
   * floor on this step.
   */
  observeStep(d: GanpoDiagnostics, atFloor = false): void {
    push(this.divergences, d.divergence);
    push(this.drifts, d.drift);
    push(this.floors, atFloor ? 1 : 0);
    if (this.divergences.length < MONITOR.window) return;
    const first = this.drifts[0] as number;
    const last = this.drifts[this.drifts.length - 1] as number;
    const growing = first > MONITOR.minDrift && last > MONITOR.driftGrowth * first;
    if (mean(this.floors) >= MONITOR.floorShare && growing) {
      this.warn(
        'floor',
        `ganpo: a critic was below its loss floor in ${Math.round(100 * mean(this.floors))} % of the last ` +
          `${MONITOR.window} steps (it tells policy from reference latents almost perfectly) while the ` +
          `latent drift grew from ${first.toPrecision(3)} to ${last.toPrecision(3)}: the policy may be chasing ` +
          `the critics instead of being pulled back (targetDecay > 0 lets the policy term read slowly ` +
          `moving copies of them). See “Long runs” in ${DOCS}.`,
      );
    }
    if (
      mean(this.divergences) < MONITOR.chanceDivergence &&
      last > MONITOR.minDrift &&
      last > MONITOR.driftGrowth * first
    ) {
      this.warn(
        'chance',
        `ganpo: the critics have stayed at chance for ${MONITOR.window} steps (mean divergence estimate ` +
          `${mean(this.divergences).toFixed(4)}) while the latent drift grew from ${first.toPrecision(3)} to ` +
          `${last.toPrecision(3)}: the regularizer is not holding the policy near its reference. See “Critic at chance” in ${DOCS}.`,
      );
    }
  }

  /** Records one policy step's preference loss and weighted adversarial loss λ·L_adv. */
  observeLosses(preferenceLoss: number, weightedAdversarialLoss: number): void {
    if (!Number.isFinite(preferenceLoss) || !Number.isFinite(weightedAdversarialLoss)) return;
    push(this.preference, preferenceLoss);
    push(this.weighted, weightedAdversarialLoss);
    if (this.preference.length < MONITOR.window) return;
    const head = mean(this.preference.slice(0, 10));
    const tail = mean(this.preference.slice(-10));
    const stalled = tail > head - MONITOR.stallFall * Math.abs(head);
    if (stalled && mean(this.weighted) >= mean(this.preference)) {
      this.warn(
        'dominates',
        `ganpo: the preference loss has not fallen over ${MONITOR.window} steps (${head.toFixed(4)} → ` +
          `${tail.toFixed(4)}) while λ·L_adv (${mean(this.weighted).toFixed(4)}) is at least as large: the ` +
          `adversarial term dominates. See “Preference loss stalls at λ = 1” in ${DOCS}.`,
      );
    }
  }
}

function push(xs: number[], x: number): void {
  xs.push(x);
  if (xs.length > MONITOR.window) xs.shift();
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
}
