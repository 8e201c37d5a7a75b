import * as tf from '@tensorflow/tfjs-core';
import { rollbackTapeOnThrow } from '../core/engine-guards';
import { GanpoError } from '../core/errors';
import { brandClass } from '../core/instance';
import { BaseDiscriminator } from '../discriminators/base';
import { strictOption } from '../discriminators/state-dict';
import type { Discriminator } from '../discriminators/types';
import { chanceLevel, type GanLoss } from '../divergence/gan-loss';
import { type LatentBatch, validateLatentBatch } from '../latent/batch';
import { DiagnosticsMonitor, type GanpoDiagnostics } from './diagnostics';
import { discriminatorUpdate } from './discriminator-step';
import { generatorTerm } from './generator';
import { SIDES, SixMeans } from './means';
import { MaskConsistency } from './notices';
import { resolveRegularizerOptions } from './options';
import type { GanpoPreset, GeneratorLoss } from './preset';
import {
  type GanpoRegularizerState,
  prepareRegularizerState,
  type RegularizerStateOptions,
  writeRegularizerState,
} from './state';
import { updateTargets } from './target';
import type { GanpoRegularizerOptions, GanpoSixMeans, MeanEstimator, Scoring } from './types';

export type { GanpoDiagnostics } from './diagnostics';
export { GANPO_PRESETS, type GanpoPreset, type GeneratorLoss } from './preset';
export type { GanpoRegularizerState } from './state';
export type {
  CriticOptions,
  GanpoRegularizerOptions,
  GanpoRegularizerSettings,
  GanpoSixMeans,
  MeanEstimator,
  Scoring,
} from './types';

/**
 * The GANPO latent adversarial regularizer (arXiv 2601.22083): two discriminators over hidden-state
 * sequences, D_w for chosen and D_l for rejected responses, their six set means, and their optimizer.
 * Per training step: {@link discriminatorStep} on the batch's detached latents (one optimizer step of
 * both critics), then {@link adversarialLoss} (or {@link ganpoLoss}) inside the policy's gradient.
 *
 * **Default** (`preset: 'recommended'`, values in {@link GANPO_PRESETS}): each critic learns plain
 * RaGAN, reference vs policy latents of its side,
 *
 *     L_D = ½[ℓreal(D(ref) − m_pol) + ℓfake(D(pol) − m_ref)],
 *
 * and the policy term is the bounded relative feature-matching loss on the last hidden layer f̄ of
 * target critics (Polyak averages of the critics, `targetDecay` 0.99), 0 at policy = reference (it
 * cannot push the policy past its reference) and free of the features' scale:
 *
 *     L_adv = ½ Σ_side Σ_i ‖f̄(h_θ,i) − f̄(h_ref,i)‖² / Σ_i ‖f̄(h_ref,i)‖².
 *
 * **Official** (`preset: 'official'`, the official GANPO code step for step): each critic scores its
 * reference, policy and opposite sets (three training-mode calls in the official order) and learns
 * the "quad" loss
 *
 *     L_D = ¼[ℓreal(D(ref) − m_pol) + ℓfake(D(pol) − m_ref) + ℓreal(D(pol) − m_opp) + ℓfake(D(opp) − m_pol)],
 *
 * and the policy term is the one-sided relativistic loss
 *
 *     L_adv = ½[ℓreal(D_w(h_θ^w) − m_w,ref) + ℓreal(D_l(h_θ^l) − m_l,ref)].
 *
 * Either way L = L_pref + λ·L_adv ({@link ganpoLoss}). Always pass the policy's variable list to
 * `tf.variableGrads` / `minimize`: without it tfjs differentiates every trainable variable in the
 * process, the discriminators' included.
 */
export class GanpoRegularizer {
  /** D_w (`chosen`) and D_l (`rejected`). */
  readonly discriminators: Readonly<{ chosen: Discriminator; rejected: Discriminator }>;
  /** λ, the weight of the adversarial term. */
  readonly weight: number;
  /** The relativistic GAN loss (see {@link GanLoss}). */
  readonly ganLoss: GanLoss;
  /** How the set means are estimated (see {@link MeanEstimator}). */
  readonly estimator: MeanEstimator;
  /** EMA momentum of the means. */
  readonly momentum: number;
  /** Whether the critics' loss includes the opposite-set terms (the official "quad" loss). */
  readonly negatives: boolean;
  /** The policy-side term (see {@link GeneratorLoss}). */
  readonly generator: GeneratorLoss;
  /** How the critics score their sets in {@link discriminatorStep} (see {@link Scoring}). */
  readonly scoring: Scoring;
  /** The preset the defaults came from. */
  readonly preset: GanpoPreset;
  /** The critics' optimizer. */
  readonly optimizer: tf.Optimizer;
  /** A discriminator whose batch loss is below this skips its update (see `lossFloor`). */
  readonly lossFloor: number;
  /** Polyak decay of the target critics the policy term sees (0: it sees the live critics). */
  readonly targetDecay: number;
  /** The target critics (copies of D_w, D_l averaged after every step), or null. */
  private readonly targets: Readonly<{ chosen: Discriminator; rejected: Discriminator }> | null;
  private sixMeans: SixMeans;
  private lastDiagnostics: GanpoDiagnostics | null = null;
  private readonly monitor = new DiagnosticsMonitor();
  private readonly masks = new MaskConsistency();
  private steps = 0;
  private disposed = false;
  /** The last `ganpoLoss` call's preference and regularizer losses, read at the next discriminator step. */
  private pendingLosses: tf.Tensor1D | null = null;

  /**
   * A regularizer with two critics: built here (`{ latentDim, critic?, seed? }`, default the
   * official transformer critic) or given (`{ discriminators: { chosen, rejected } }`, any
   * {@link Discriminator}); the other options default to the preset's values
   * ({@link GANPO_PRESETS}). Unknown options are refused (`INVALID_OPTION`, naming the nearest
   * valid one).
   *
   * @example
   * ```ts
   * const reg = new GanpoRegularizer({ latentDim: 2304, seed: 0 });                  // official critic
   * const small = new GanpoRegularizer({ latentDim: 64, critic: { kind: 'mlp' } }); // small models
   * const official = new GanpoRegularizer({ latentDim: 2304, preset: 'official' });  // the paper's code
   * ```
   */
  constructor(options: GanpoRegularizerOptions) {
    const resolved = resolveRegularizerOptions('GanpoRegularizer', options);
    this.preset = resolved.preset;
    this.weight = resolved.weight;
    this.ganLoss = resolved.ganLoss;
    this.estimator = resolved.estimator;
    this.momentum = resolved.momentum;
    this.negatives = resolved.negatives;
    this.generator = resolved.generator;
    this.scoring = resolved.scoring;
    this.optimizer = resolved.optimizer;
    this.lossFloor = resolved.lossFloor;
    this.targetDecay = resolved.targetDecay;
    this.discriminators = resolved.discriminators;
    this.targets = resolved.targets;
    this.sixMeans = new SixMeans(this.estimator, this.momentum);
  }

  /** The latent width H the critics accept (the policy's). */
  get latentDim(): number {
    return this.discriminators.chosen.latentDim;
  }

  /** Number of discriminator steps taken. */
  get stepCount(): number {
    return this.steps;
  }

  /**
   * The six current means (plain numbers; `null` before the first {@link discriminatorStep}). With
   * the `'batch'` estimator they are the last step's batch means.
   */
  get means(): GanpoSixMeans {
    return this.sixMeans.current;
  }

  /** Trainable variables of both discriminators (what {@link discriminatorStep} updates). */
  get trainableVariables(): tf.Variable[] {
    return [
      ...this.discriminators.chosen.trainableVariables,
      ...this.discriminators.rejected.trainableVariables,
    ];
  }

  /** The options a saved state must match. */
  private get stateOptions(): RegularizerStateOptions {
    return {
      weight: this.weight,
      ganLoss: this.ganLoss,
      estimator: this.estimator,
      momentum: this.momentum,
      negatives: this.negatives,
      generator: this.generator,
      targetDecay: this.targetDecay,
    };
  }

  /**
   * What the last {@link discriminatorStep} measured: per-side critic accuracy, the divergence
   * estimate and the latent drift (see {@link GanpoDiagnostics}); `null` before the first step.
   */
  get diagnostics(): GanpoDiagnostics | null {
    return this.lastDiagnostics === null
      ? null
      : { ...this.lastDiagnostics, criticAccuracy: { ...this.lastDiagnostics.criticAccuracy } };
  }

  /**
   * Tells the regularizer one policy step's preference loss and adversarial loss (before λ), so
   * that it can warn once when the adversarial term dominates (the preference loss stops falling
   * while λ·L_adv is at least as large). `GanpoTrainer` calls it with its whole step's losses; in
   * your own loop `ganpoLoss` records them for the next {@link discriminatorStep}, so there is no
   * call to make. Non-finite values are ignored. @internal
   */
  observeLosses(preferenceLoss: number, adversarialLoss: number): void {
    this.monitor.observeLosses(preferenceLoss, this.weight * adversarialLoss);
  }

  /**
   * Keeps a policy step's two losses for the "adversarial term dominates" check without reading
   * them back now: `ganpoLoss` runs inside the policy's gradient tape, where a read-back would block
   * (a GPU sync per step). The values are read after the tape, at the start of the next
   * {@link discriminatorStep}, together; a later call replaces an unread pair (gradient
   * accumulation: the last micro-batch's). @internal
   */
  recordLosses(preferenceLoss: tf.Scalar, regularizerLoss: tf.Scalar): void {
    if (this.disposed) return;
    const pair = tf.keep(tf.stack([preferenceLoss, regularizerLoss]) as tf.Tensor1D);
    this.pendingLosses?.dispose();
    this.pendingLosses = pair;
  }

  /** Feeds the recorded losses of the last policy step to the monitor (one read-back, outside any tape). */
  private observePendingLosses(): void {
    const pending = this.pendingLosses;
    if (pending === null) return;
    this.pendingLosses = null;
    const [preference, regularizer] = pending.dataSync();
    pending.dispose();
    this.observeLosses(preference as number, regularizer as number);
  }

  private assertLive(where: string): void {
    if (this.disposed) throw new GanpoError('DISPOSED', `${where}: the regularizer has been disposed`);
  }

  /**
   * One discriminator update on a batch of latents (treated as constants), in the official order:
   * score the three sets per discriminator in training mode, update the means with this batch, then
   * one optimizer step on both discriminators minimising L_D(chosen) + L_D(rejected).
   *
   * Validation happens before anything changes: a refused call changes no weight, no mean and no
   * optimizer state. A non-finite loss is refused too (before the optimizer step and the mean
   * update), but the spectral-norm power iteration of that forward has already moved u and v.
   *
   * @returns both discriminator losses as numbers.
   * @throws GanpoError on bad latents or masks (see {@link LatentBatch}: rank 3, width
   *   `latentDim`, one batch size, masks [B,T] of 0/1, finite values) and on a non-finite loss.
   */
  discriminatorStep(batch: LatentBatch): { lossChosen: number; lossRejected: number } {
    const where = 'GanpoRegularizer.discriminatorStep';
    this.assertLive(where);
    validateLatentBatch(where, batch, this.latentDim, "the regularizer's latentDim");
    this.observePendingLosses();
    // A refused update (a non-finite loss) must leave the critics as they were: their training
    // forward has already drawn dropout masks and run a spectral-norm power iteration by then.
    const snapshots = SIDES.map((side) => {
      const d = this.discriminators[side];
      return d instanceof BaseDiscriminator ? d.snapshotTrainingState() : null;
    });
    let update: ReturnType<typeof discriminatorUpdate>;
    try {
      update = discriminatorUpdate(
        where,
        {
          discriminators: this.discriminators,
          optimizer: this.optimizer,
          means: this.sixMeans,
          estimator: this.estimator,
          ganLoss: this.ganLoss,
          negatives: this.negatives,
          lossFloor: this.lossFloor,
          scoring: this.scoring,
        },
        batch,
      );
    } catch (e) {
      for (const s of snapshots) s?.restore();
      throw e;
    } finally {
      for (const s of snapshots) s?.release();
    }
    this.masks.step(batch.chosenMask !== undefined || batch.rejectedMask !== undefined);
    this.sixMeans.commit(update.batchMeans, update.pendingMeans);
    if (this.targets) updateTargets(this.targets, this.discriminators, this.targetDecay);
    this.steps += 1;
    const { chosen, rejected } = update.losses;
    this.lastDiagnostics = {
      criticAccuracy: update.accuracy,
      divergence: 2 * chanceLevel(this.ganLoss) - chosen - rejected,
      drift: update.drift,
    };
    // At the floor with the policy term on the live critics: the configuration whose drift ran away
    // in long runs (docs/troubleshooting.md, "Long runs"); with target critics it was harmless.
    this.monitor.observeStep(
      this.lastDiagnostics,
      this.targets === null && this.lossFloor > 0 && (chosen < this.lossFloor || rejected < this.lossFloor),
    );
    return { lossChosen: chosen, lossRejected: rejected };
  }

  /**
   * The policy-side adversarial loss, differentiable w.r.t. the policy latents, averaged over the
   * batch and both discriminators (eval mode: no dropout, stored spectral-norm vectors):
   *
   *     relative-feature-matching (default): L_adv = ½ Σ_side Σ_i ‖f(h_θ,i) − f(h_ref,i)‖² / Σ_i ‖f(h_ref,i)‖²
   *     paired-feature-matching:             L_adv = ½ Σ_side mean_i ‖f(h_θ,i) − f(h_ref,i)‖²
   *     paired-least-squares:                L_adv = ½ Σ_side mean_i (D(h_θ,i) − D(h_ref,i))²
   *     one-sided (official):                L_adv = ½[ℓreal(D_w(h_θ^w) − m_w,ref) + ℓreal(D_l(h_θ^l) − m_l,ref)]
   *
   * D and f are the target critics when `targetDecay` > 0 (the default), else the live ones.
   * Reference latents and means are constants; the paired generators compare each policy latent
   * with its sequence's reference latent, the one-sided one uses the reference latents only with
   * the `'batch'` estimator (m_ref = their mean score under the just-updated critic; with `'ema'`
   * the stored mean). Call it inside the policy's `tf.variableGrads(f, policyVariables)`.
   *
   * @returns a scalar the caller owns.
   * @throws GanpoError before the first {@link discriminatorStep} (no means yet), and on bad latents
   *   or masks (see {@link LatentBatch}).
   */
  adversarialLoss(batch: LatentBatch): tf.Scalar {
    const where = 'GanpoRegularizer.adversarialLoss';
    this.checkAdversarial(where, batch);
    return this.adversarialCore(where, batch);
  }

  /**
   * The checks of {@link adversarialLoss} (a live regularizer after a discriminator step, the
   * latents against `latentDim`), naming `where` (`ganpoLoss` calls it). @internal
   */
  checkAdversarial(where: string, batch: LatentBatch): void {
    this.assertLive(where);
    validateLatentBatch(where, batch, this.latentDim, "the regularizer's latentDim");
    if (this.means.chosen.reference === null || this.means.rejected.reference === null) {
      throw new GanpoError(
        'INVALID_STATE',
        `${where}: no reference means yet — call discriminatorStep on a batch first (the official order)`,
      );
    }
  }

  /**
   * {@link adversarialLoss} on checked latents, after {@link checkAdversarial} (or the trainer's own
   * checks). @internal
   */
  adversarialCore(where: string, batch: LatentBatch): tf.Scalar {
    // Inside the caller's gradient pass: a discriminator that throws half-way (one of the user's
    // own) must not leave this call's recorded kernels on the caller's tape.
    return rollbackTapeOnThrow(() => this.adversarialTerm(where, batch));
  }

  private adversarialTerm(where: string, batch: LatentBatch): tf.Scalar {
    const { chosenMask, rejectedMask } = batch;
    this.masks.loss(chosenMask !== undefined || rejectedMask !== undefined, where);
    const means = this.means;
    return generatorTerm(
      this.targets ?? this.discriminators,
      {
        chosen: {
          policy: batch.policyChosenLatents,
          mask: chosenMask,
          reference: batch.referenceChosenLatents,
          referenceMean: means.chosen.reference as number,
        },
        rejected: {
          policy: batch.policyRejectedLatents,
          mask: rejectedMask,
          reference: batch.referenceRejectedLatents,
          referenceMean: means.rejected.reference as number,
        },
      },
      {
        generator: this.generator,
        ganLoss: this.ganLoss,
        useReferenceMean: this.generator === 'one-sided' && this.estimator === 'batch',
      },
    );
  }

  /** Frees both discriminators and the optimizer's state. */
  dispose(): void {
    if (this.disposed) return;
    this.pendingLosses?.dispose();
    this.pendingLosses = null;
    this.discriminators.chosen.dispose();
    this.discriminators.rejected.dispose();
    this.targets?.chosen.dispose();
    this.targets?.rejected.dispose();
    this.optimizer.dispose();
    this.disposed = true;
  }

  /**
   * The whole state as plain JSON (one read-back per tensor): options, means, step count, both
   * discriminators' state dicts (PyTorch names) and dropout positions, and the optimizer's state.
   * {@link loadStateDict} into a regularizer of the same architecture continues bit for bit like an
   * uninterrupted run.
   */
  stateDict(): GanpoRegularizerState {
    this.assertLive('GanpoRegularizer.stateDict');
    return writeRegularizerState({
      options: this.stateOptions,
      discriminators: this.discriminators,
      targets: this.targets,
      optimizer: this.optimizer,
      steps: this.steps,
      means: this.sixMeans,
    });
  }

  /**
   * Restores a state from {@link stateDict}. The options (weight, GAN loss, estimator, momentum,
   * negatives, generator) must equal this regularizer's. All or nothing: on any error nothing
   * changes. Exact or refused: a state that lacks a part the run needs to continue exactly (the
   * critics' dropout-stream positions, an optimizer slot) is refused naming it; with
   * `{ strict: false }` such parts are left as they are (the streams keep their position, a
   * variable without its slot restarts with fresh moments) and listed in `missingKeys`.
   *
   * @param options.strict - refuse missing parts. Default true (PyTorch's `load_state_dict`).
   * @returns `missingKeys`: the parts not restored (empty when strict).
   * @throws GanpoError `INVALID_FORMAT` on a malformed state, `STATE_DICT_MISMATCH` on other options,
   *   a missing part, a discriminator state that does not fit, or optimizer state for an optimizer
   *   that is not AdamW; `NON_FINITE` for values a float32 tensor cannot hold (level `'full'`).
   */
  loadStateDict(state: GanpoRegularizerState, options?: { strict?: boolean }): { missingKeys: string[] } {
    const where = 'GanpoRegularizer.loadStateDict';
    const prepared = this.prepareLoadStateDict(state, where, strictOption(where, options));
    try {
      prepared.commit();
    } finally {
      prepared.release();
    }
    return { missingKeys: prepared.missingKeys };
  }

  /**
   * Every check of {@link loadStateDict}, changing nothing: returns `commit` (applies the state) and
   * `release` (frees the parsed tensors; call it after `commit`, or instead when another part of a
   * larger state is refused).
   * @internal
   */
  prepareLoadStateDict(
    state: GanpoRegularizerState,
    where = 'GanpoRegularizer.loadStateDict',
    strict = true,
  ): { commit: () => void; release: () => void; missingKeys: string[] } {
    this.assertLive(where);
    const prepared = prepareRegularizerState(
      where,
      state,
      {
        options: this.stateOptions,
        discriminators: this.discriminators,
        targets: this.targets,
        optimizer: this.optimizer,
      },
      strict,
    );
    return {
      commit: () => {
        prepared.commit();
        this.sixMeans = prepared.means;
        this.steps = prepared.steps;
      },
      release: prepared.release,
      missingKeys: prepared.missingKeys,
    };
  }
}
brandClass(GanpoRegularizer, 'GanpoRegularizer');
