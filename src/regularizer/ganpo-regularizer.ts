import type * as tf from '@tensorflow/tfjs-core';
import { GanpoError } from '../core/errors';
import { assertArgs } from '../core/validate';
import type { Discriminator } from '../discriminators/types';
import { chanceLevel, type GanLoss } from '../divergence/gan-loss';
import { DiagnosticsMonitor, type GanpoDiagnostics } from './diagnostics';
import { discriminatorUpdate } from './discriminator-step';
import { generatorTerm } from './generator';
import { SixMeans } from './means';
import { MaskConsistency } from './notices';
import { createDiscriminatorPair, resolveRegularizerOptions } from './options';
import type { GanpoPreset, GeneratorLoss } from './preset';
import {
  type GanpoRegularizerState,
  prepareRegularizerState,
  type RegularizerStateOptions,
  writeRegularizerState,
} from './state';
import type {
  AdversarialLossArgs,
  DiscriminatorStepArgs,
  DiscriminatorStepResult,
  GanpoRegularizerArgs,
  GanpoRegularizerCreateArgs,
  GanpoSixMeans,
  MeanEstimator,
  Scoring,
} from './types';
import { validateAdversarialLatents, validateStepLatents } from './validate';

export type { GanpoDiagnostics } from './diagnostics';
export type { SixMeansJSON } from './means';
export { GANPO_PRESETS, type GanpoPreset, GENERATOR_LOSSES, type GeneratorLoss } from './preset';
export type { GanpoRegularizerState, RegularizerStateOptions } from './state';
export {
  type AdversarialLossArgs,
  type DiscriminatorStepArgs,
  type DiscriminatorStepResult,
  type GanpoRegularizerArgs,
  type GanpoRegularizerCreateArgs,
  type GanpoRegularizerOptions,
  type GanpoSixMeans,
  MEAN_ESTIMATORS,
  type MeanEstimator,
  type PerSide,
  SCORINGS,
  type Scoring,
  type SerializedTensor,
} from './types';

/**
 * The GANPO latent adversarial regularizer (arXiv 2601.22083): two discriminators over hidden-state
 * sequences, D_w for chosen and D_l for rejected responses, their six set means, and their optimizer.
 *
 * Defaults (`preset: 'recommended'`): each critic learns plain RaGAN reference vs policy
 * (`negatives: false`) and the policy term is the bounded paired feature-matching loss
 * ½ Σ_side mean_i ‖f(h_θ,i) − f(h_ref,i)‖² on the critics' last hidden layer f, which is 0 at
 * policy = reference and so cannot push the policy past it. With
 * `preset: 'official'`, per training step, as the official code does:
 * 1. {@link discriminatorStep} on detached latents: each discriminator scores its reference,
 *    policy and opposite sets (three training-mode calls, one spectral-norm power iteration each,
 *    in the official order: the policy's latents, then the reference's chosen and rejected ones);
 *    the means are updated with this batch; then one optimizer step on both discriminators with
 *
 *        L_D = ¼[ℓreal(D(ref) − m_pol) + ℓfake(D(pol) − m_ref) + ℓreal(D(pol) − m_opp) + ℓfake(D(opp) − m_pol)].
 *
 * 2. {@link adversarialLoss} inside the policy's gradient computation, discriminators in eval mode:
 *
 *        L_adv = ½[ℓreal(D_w(h_θ^w) − m_w,ref) + ℓreal(D_l(h_θ^l) − m_l,ref)],
 *
 *    added to the preference loss with weight λ by {@link ganpoLoss}.
 *
 * Always pass the policy's variable list to `tf.variableGrads` / `minimize`: without it tfjs
 * differentiates every trainable variable in the process, the discriminators' included.
 */
export class GanpoRegularizer {
  readonly discriminators: Readonly<{ chosen: Discriminator; rejected: Discriminator }>;
  readonly weight: number;
  /** The relativistic GAN loss (see {@link GanLoss}). */
  readonly ganLoss: GanLoss;
  readonly estimator: MeanEstimator;
  readonly momentum: number;
  readonly negatives: boolean;
  /** The policy-side term (see {@link GeneratorLoss}). */
  readonly generator: GeneratorLoss;
  /** How the critics score their sets in {@link discriminatorStep} (see {@link Scoring}). */
  readonly scoring: Scoring;
  /** The preset the defaults came from. */
  readonly preset: GanpoPreset;
  readonly optimizer: tf.Optimizer;
  /** A discriminator whose batch loss is below this skips its update (see `lossFloor`). */
  readonly lossFloor: number;
  private sixMeans: SixMeans;
  private lastDiagnostics: GanpoDiagnostics | null = null;
  private readonly monitor = new DiagnosticsMonitor();
  private readonly masks = new MaskConsistency();
  private steps = 0;
  private disposed = false;

  /**
   * A regularizer around two discriminators you built (see {@link GanpoRegularizer.create} to build
   * them too); see {@link GanpoRegularizerArgs}.
   */
  constructor(args: GanpoRegularizerArgs) {
    const options = resolveRegularizerOptions('GanpoRegularizer', args);
    this.preset = options.preset;
    this.weight = options.weight;
    this.ganLoss = options.ganLoss;
    this.estimator = options.estimator;
    this.momentum = options.momentum;
    this.negatives = options.negatives;
    this.generator = options.generator;
    this.scoring = options.scoring;
    this.optimizer = options.optimizer;
    this.lossFloor = options.lossFloor;
    this.discriminators = options.discriminators;
    this.sixMeans = new SixMeans(this.estimator, this.momentum);
  }

  /**
   * Builds a regularizer with two fresh discriminators of the same architecture.
   *
   * @example
   * ```ts
   * const reg = GanpoRegularizer.create({ inputDim: 2304 });             // official setup
   * const small = GanpoRegularizer.create({ inputDim: 64, kind: 'mlp' }); // browsers, tiny models
   * ```
   */
  static create(args: GanpoRegularizerCreateArgs): GanpoRegularizer {
    return createDiscriminatorPair(
      'GanpoRegularizer.create',
      args,
      (chosen, rejected) => new GanpoRegularizer({ ...args, chosen, rejected }),
    );
  }

  /** The hidden size the discriminators accept. */
  get inputDim(): number {
    return this.discriminators.chosen.inputDim;
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

  /** @deprecated Renamed {@link GanpoRegularizer.ganLoss}; this alias is removed in the next release. */
  get divergence(): GanLoss {
    return this.ganLoss;
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
   * while λ·L_adv is at least as large). `GanpoTrainer` calls it; call it from your own loop to get
   * the same warning. Non-finite values are ignored.
   */
  observeLosses(preferenceLoss: number, adversarialLoss: number): void {
    this.monitor.observeLosses(preferenceLoss, this.weight * adversarialLoss);
  }

  /** A live regularizer called with an arguments object. */
  private assertCall(where: string, args: unknown): void {
    this.assertLive(where);
    assertArgs(where, args, '{ policyChosen, policyRejected, ... }');
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
   * @throws GanpoError on bad latents or masks (rank 3, hidden size = inputDim, equal batch sizes,
   *   masks [B,T] of 0/1, finite values) and on a non-finite loss.
   */
  discriminatorStep(args: DiscriminatorStepArgs): DiscriminatorStepResult {
    const where = 'GanpoRegularizer.discriminatorStep';
    this.assertCall(where, args);
    validateStepLatents(where, this.inputDim, args);
    this.masks.step(args.chosenMask !== undefined || args.rejectedMask !== undefined);
    const update = discriminatorUpdate(
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
      args,
    );
    this.sixMeans.commit(update.batchMeans, update.pendingMeans);
    this.steps += 1;
    const { chosen, rejected } = update.losses;
    this.lastDiagnostics = {
      criticAccuracy: update.accuracy,
      divergence: 2 * chanceLevel(this.ganLoss) - chosen - rejected,
      drift: update.drift,
    };
    this.monitor.observeStep(this.lastDiagnostics);
    return { lossChosen: chosen, lossRejected: rejected };
  }

  /**
   * The policy-side adversarial loss, differentiable w.r.t. the policy latents, averaged over the
   * batch and both discriminators (eval mode: no dropout, stored spectral-norm vectors):
   *
   *     paired-feature-matching (default): L_adv = ½ Σ_side mean_i ‖f(h_θ,i) − f(h_ref,i)‖²
   *     paired-least-squares:              L_adv = ½ Σ_side mean_i (D(h_θ,i) − D(h_ref,i))²
   *     one-sided (official):            L_adv = ½[ℓreal(D_w(h_θ^w) − m_w,ref) + ℓreal(D_l(h_θ^l) − m_l,ref)]
   *
   * Reference latents and means are constants. Call it inside the policy's
   * `tf.variableGrads(f, policyVariables)`.
   *
   * @returns a scalar the caller owns.
   * @throws GanpoError before the first {@link discriminatorStep} (no means yet), on bad latents or
   *   masks, and (`INVALID_ARGUMENT`) without reference latents under the paired generator.
   */
  adversarialLoss(args: AdversarialLossArgs): tf.Scalar {
    const where = 'GanpoRegularizer.adversarialLoss';
    this.assertCall(where, args);
    const { policyChosen, policyRejected, chosenMask, rejectedMask, referenceChosen, referenceRejected } =
      args;
    const { useReference } = validateAdversarialLatents(
      where,
      this.inputDim,
      { generator: this.generator, estimator: this.estimator },
      args,
    );
    const means = this.means;
    const chosenReferenceMean = means.chosen.reference;
    const rejectedReferenceMean = means.rejected.reference;
    if (chosenReferenceMean === null || rejectedReferenceMean === null) {
      throw new GanpoError(
        'INVALID_STATE',
        `${where}: no reference means yet — call discriminatorStep on a batch first (the official order)`,
      );
    }
    this.masks.loss(chosenMask !== undefined || rejectedMask !== undefined, where);
    return generatorTerm(
      this.discriminators,
      {
        chosen: {
          policy: policyChosen,
          mask: chosenMask,
          reference: referenceChosen,
          referenceMean: chosenReferenceMean,
        },
        rejected: {
          policy: policyRejected,
          mask: rejectedMask,
          reference: referenceRejected,
          referenceMean: rejectedReferenceMean,
        },
      },
      { generator: this.generator, ganLoss: this.ganLoss, useReferenceMean: useReference },
    );
  }

  /** Frees both discriminators and the optimizer's state. */
  dispose(): void {
    if (this.disposed) return;
    this.discriminators.chosen.dispose();
    this.discriminators.rejected.dispose();
    this.optimizer.dispose();
    this.disposed = true;
  }

  /**
   * The whole state as plain JSON (one read-back per tensor): restoring it into a regularizer of the
   * same architecture with {@link loadState} continues bit-for-bit like an uninterrupted run.
   */
  getState(): GanpoRegularizerState {
    this.assertLive('GanpoRegularizer.getState');
    return writeRegularizerState({
      options: this.stateOptions,
      discriminators: this.discriminators,
      optimizer: this.optimizer,
      steps: this.steps,
      means: this.sixMeans,
    });
  }

  /**
   * Restores a state from {@link getState}. The options (weight, GAN loss, estimator, momentum,
   * negatives) must equal this regularizer's. All or nothing: on any error nothing changes.
   *
   * @throws GanpoError `INVALID_FORMAT` on a malformed state, `STATE_DICT_MISMATCH` on other options,
   *   a discriminator state that does not fit, or optimizer state for an optimizer that is not AdamW.
   */
  loadState(state: GanpoRegularizerState): void {
    const prepared = this.prepareLoadState(state);
    try {
      prepared.commit();
    } finally {
      prepared.release();
    }
  }

  /**
   * Every check of {@link loadState}, changing nothing: returns `commit` (applies the state) and
   * `release` (frees the parsed tensors; call it after `commit`, or instead when another part of a
   * larger checkpoint is refused). @internal
   */
  prepareLoadState(
    state: GanpoRegularizerState,
    where = 'GanpoRegularizer.loadState',
  ): { commit: () => void; release: () => void } {
    this.assertLive(where);
    const prepared = prepareRegularizerState(where, state, {
      options: this.stateOptions,
      discriminators: this.discriminators,
      optimizer: this.optimizer,
    });
    return {
      commit: () => {
        prepared.commit();
        this.sixMeans = prepared.means;
        this.steps = prepared.steps;
      },
      release: prepared.release,
    };
  }
}
