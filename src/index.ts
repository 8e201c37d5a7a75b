// Public API of ganpo. Each section re-exports one concept; implementations live in their folders.
// biome-ignore-all assist/source/organizeImports: each engineer owns one appended section; sorting across sections would interleave them and make merges conflict.

// Core: errors and validation
export {
  getValidationLevel,
  setValidationLevel,
  type ValidationLevel,
  withValidationLevel,
} from './core/config';
export { GanpoError, type GanpoErrorCode, type GanpoErrorDetails } from './core/errors';
// Discriminators over latent sequences (TransformerDiscriminator = the official GANPO critic,
// MLPDiscriminator = a light one), their checkpoint formats, and the fast kernels they use.
export { BaseDiscriminator, type DiscriminatorClassName } from './discriminators/base';
export { DISCRIMINATOR_LIMITS } from './discriminators/limits';
export { MLPDiscriminator, type MLPDiscriminatorConfig } from './discriminators/mlp';
export type { HandlerOrUrl } from './discriminators/persist';
export { TransformerDiscriminator, type TransformerDiscriminatorConfig } from './discriminators/transformer';
export type { Discriminator, DiscriminatorApplyOptions } from './discriminators/types';
export {
  readSafetensors,
  SAFETENSORS_MAX_DEPTH,
  SAFETENSORS_MAX_HEADER_BYTES,
  SAFETENSORS_MAX_RANK,
  writeSafetensors,
} from './io/safetensors';
export { type AttentionImpl, type SelfAttentionCoreArgs, selfAttentionCore } from './ops/attention';
export { fastLinear } from './ops/fast-linear';
export { geluErf } from './ops/gelu';
export { layerNorm } from './ops/layer-norm';
// Ops that tfjs lacks or gets wrong
export { logSigmoid } from './ops/log-sigmoid';
export { stopGradient } from './ops/stop-gradient';
// Trainer data side: character tokenizer, TRL-style preference collation, resumable batch order
export {
  type CollatedArrays,
  type CollatedSequences,
  type CollateOptions,
  collatePreferenceArrays,
  collatePreferencePairs,
  concatenatePreferenceBatch,
  disposePreferenceBatch,
  type PreferenceBatch,
  type PreferencePair,
  type TruncatedSequence,
  type TruncationMode,
  truncatePreferencePair,
} from './trainer/collate';
export {
  BatchSampler,
  type BatchSamplerArgs,
  type BatchSamplerState,
  type SampledBatch,
} from './trainer/sampler';
export {
  CharTokenizer,
  type CharTokenizerArgs,
  type CharTokenizerJSON,
  type DecodeOptions,
  type EncodeOptions,
} from './trainer/tokenizer';
// Versions (importing this module also registers tfjs's gradients)
export { versions } from './version';

// --- GANPO core (branch gancore): relativistic divergences, running means, optimisation, latent hooks ---
export { type Divergence, fakeLoss, realLoss } from './divergence/divergences';
export {
  type GanpoDiscriminatorLossArgs,
  type GanpoGeneratorLossArgs,
  type SetMeans,
  ganpoDiscriminatorLoss,
  ganpoGeneratorLoss,
} from './divergence/ganpo-relativistic';
export type { MeanLike } from './divergence/inputs';
export {
  type RelativisticLossArgs,
  relativisticAverageDivergence,
  relativisticDiscriminatorLoss,
  relativisticGeneratorLoss,
} from './divergence/relativistic';
export { RunningMean, type RunningMeanArgs, type RunningMeanJSON } from './divergence/running-mean';
export { findLayer } from './hooks/find-layer';
export { LatentView, type LatentViewOutput } from './hooks/latent-view';
export { LayerOutputHook } from './hooks/layer-output-hook';
export { AdamW, type AdamWArgs, type AdamWSlotState, type AdamWState, type NamedTensor } from './optim/adamw';
export { type ClipGradNormOptions, type ClipGradNormResult, clipGradNorm } from './optim/clip';
export {
  type LearningRateSchedule,
  type WarmupCosineScheduleArgs,
  type WarmupLinearScheduleArgs,
  warmupCosineSchedule,
  warmupLinearSchedule,
} from './optim/schedules';

// Log-probabilities and preference losses (DPO family, SimPO, ORPO) with TRL's names and defaults
export { type LdDpoArgs, ldDpoLogProbs, type MaskedPerToken } from './logprobs/ld-dpo';
export {
  type CausalLogProbsArgs,
  causalLogProbs,
  type SequenceLogProbs,
  type SequenceLogProbsArgs,
  sequenceLogProbs,
} from './logprobs/sequence-log-probs';
export { wpoLogWeights, wpoWeights } from './logprobs/wpo';
export { DPO_LOSS_TYPES, type DpoLossArgs, type DpoLossType, dpoLoss } from './losses/dpo';
export { F_DIVERGENCES, type FDivergence, fDivergenceTransform } from './losses/f-divergence';
export { type PreferenceMetrics, preferenceMetrics } from './losses/metrics';
export { nllLoss } from './losses/nll';
export { log1mexp, type OrpoLoss, type OrpoLossArgs, orpoLoss } from './losses/orpo';
export { type SimpoLossArgs, simpoLoss } from './losses/simpo';
export type { PreferenceLoss } from './losses/types';
export { sortAscending } from './ops/sort';

// GANPO: the regularizer (two discriminators, six means, their optimizer) and the objective
export { type GanpoLossArgs, type GanpoLossOutput, ganpoLoss } from './regularizer/ganpo-objective';
export {
  type AdversarialLossArgs,
  type DiscriminatorStepArgs,
  type DiscriminatorStepResult,
  GanpoRegularizer,
  type GanpoRegularizerArgs,
  type GanpoRegularizerCreateArgs,
  type GanpoRegularizerOptions,
  type GanpoRegularizerState,
  type RegularizerStateOptions,
  type SixMeansJSON,
  type GanpoSixMeans,
  MEAN_ESTIMATORS,
  type MeanEstimator,
  type SerializedTensor,
  type PerSide,
} from './regularizer/ganpo-regularizer';

// Trainer: the whole loop for tfjs causal LMs
export {
  type CausalLM,
  GanpoTrainer,
  type GanpoTrainerArgs,
  type PreferenceObjective,
  type ReferenceEntry,
  type TrainerCheckpoint,
  type TrainerGanpoOptions,
  type TrainerMetrics,
} from './trainer/ganpo-trainer';
export { referenceCacheFromBytes, referenceCacheToBytes } from './trainer/reference-cache';
