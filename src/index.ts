// Public API of ganpo, by layer: each layer uses only the ones above it.

// Core: errors, validation level, versions (importing this module also registers tfjs's gradients)
export {
  getValidationLevel,
  setValidationLevel,
  type ValidationLevel,
  withValidationLevel,
} from './core/config';
export { GanpoError, type GanpoErrorCode, type GanpoErrorDetails } from './core/errors';
export { versions } from './version';

// Ops that tfjs lacks or gets wrong (the discriminators' fast kernels: `ganpo/ops`)
export { logSigmoid } from './ops/log-sigmoid';
export { stopGradient } from './ops/stop-gradient';
export { registerWasmTrainingKernels } from './ops/wasm-training-kernels';

// Log-probabilities of sequences (TRL's names), LD-DPO and WPO weights
export { type LdDpoArgs, ldDpoLogProbs, type MaskedPerToken } from './logprobs/ld-dpo';
export {
  type CausalLogProbsArgs,
  causalLogProbs,
  type SequenceLogProbs,
  type SequenceLogProbsArgs,
  sequenceLogProbs,
} from './logprobs/sequence-log-probs';
export { wpoLogWeights, wpoWeights } from './logprobs/wpo';

// Preference losses (DPO family, SimPO, ORPO) with TRL's names and defaults
export { type BcoLoss, type BcoLossArgs, bcoLoss } from './losses/bco';
export { DPO_LOSS_TYPES, type DpoLossArgs, type DpoLossType, dpoLoss } from './losses/dpo';
export { F_DIVERGENCES, type FDivergence, fDivergenceTransform } from './losses/f-divergence';
export { KTO_LOSS_TYPES, type KtoLoss, type KtoLossArgs, type KtoLossType, ktoLoss } from './losses/kto';
export { type PreferenceMetrics, preferenceMetrics } from './losses/metrics';
export { nllLoss } from './losses/nll';
export { log1mexp, type OrpoLoss, type OrpoLossArgs, orpoLoss } from './losses/orpo';
export { RunningMoments, type RunningMomentsJSON } from './losses/running-moments';
export { type SimpoLossArgs, simpoLoss } from './losses/simpo';
export type { PreferenceLoss } from './losses/types';
export type { UnpairedLogps } from './losses/unpaired';

// Relativistic average GAN losses over critic scores, and running means
export {
  type Divergence,
  fakeLoss,
  GAN_LOSSES,
  type GanLoss,
  type GanLossOption,
  realLoss,
} from './divergence/gan-loss';
export {
  type GanpoDiscriminatorLossArgs,
  type GanpoGeneratorLossArgs,
  ganpoDiscriminatorLoss,
  ganpoGeneratorLoss,
  type SetMeans,
} from './divergence/ganpo-relativistic';
export { type PairedGeneratorLossArgs, pairedLeastSquaresGeneratorLoss } from './divergence/paired-generator';
export {
  type RelativisticLossArgs,
  relativisticAverageDivergence,
  relativisticDiscriminatorLoss,
  relativisticGeneratorLoss,
} from './divergence/relativistic';
export { RunningMean, type RunningMeanArgs, type RunningMeanJSON } from './divergence/running-mean';
export type { MeanLike } from './divergence/score-inputs';

// Discriminators over latent sequences (TransformerDiscriminator = the official GANPO critic,
// MLPDiscriminator = a light one)
export { BaseDiscriminator, type DiscriminatorClassName } from './discriminators/base';
export { DISCRIMINATOR_LIMITS } from './discriminators/limits';
export { MLPDiscriminator, type MLPDiscriminatorConfig } from './discriminators/mlp';
export type { HandlerOrUrl } from './discriminators/persist';
export { TransformerDiscriminator, type TransformerDiscriminatorConfig } from './discriminators/transformer';
export type { Discriminator, DiscriminatorApplyOptions } from './discriminators/types';

// Latent extraction from tfjs-layers models
export { findLayer } from './hooks/find-layer';
export { LatentView, type LatentViewOutput } from './hooks/latent-view';
export { LayerOutputHook } from './hooks/layer-output-hook';
export {
  type CausalLMFromLayersModelOptions,
  causalLMFromLayersModel,
  type LayersCausalLM,
} from './hooks/layers-causal-lm';

// Optimisation: AdamW with PyTorch semantics, gradient clipping, learning-rate schedules
export { AdamW, type AdamWArgs, type AdamWSlotState, type AdamWState, type NamedTensor } from './optim/adamw';
export { type ClipGradNormOptions, type ClipGradNormResult, clipGradNorm } from './optim/clip';
export {
  type LearningRateSchedule,
  type WarmupCosineScheduleArgs,
  type WarmupLinearScheduleArgs,
  warmupCosineSchedule,
  warmupLinearSchedule,
} from './optim/schedules';

export { criticAccuracy, driftSums } from './regularizer/diagnostics';
// GANPO: the regularizer (two discriminators, six means, their optimizer) and the objective
export { type GanpoLossArgs, type GanpoLossOutput, ganpoLoss } from './regularizer/ganpo-objective';
export {
  type AdversarialLossArgs,
  type DiscriminatorStepArgs,
  type DiscriminatorStepResult,
  GANPO_PRESETS,
  type GanpoDiagnostics,
  type GanpoPreset,
  GanpoRegularizer,
  type GanpoRegularizerArgs,
  type GanpoRegularizerCreateArgs,
  type GanpoRegularizerOptions,
  type GanpoRegularizerState,
  type GanpoSixMeans,
  GENERATOR_LOSSES,
  type GeneratorLoss,
  MEAN_ESTIMATORS,
  type MeanEstimator,
  type PerSide,
  type RegularizerStateOptions,
  SCORINGS,
  type Scoring,
  type SerializedTensor,
  type SixMeansJSON,
} from './regularizer/ganpo-regularizer';

// Trainer: preference collation, resumable batch order, the whole loop for tfjs causal LMs
export {
  type CollatedSequences,
  type CollateOptions,
  collatePreferencePairs,
  disposePreferenceBatch,
  type PreferenceBatch,
  type PreferencePair,
  type TruncationMode,
} from './trainer/collate';
export {
  type CausalLM,
  type DpoObjectiveOptions,
  GanpoTrainer,
  type GanpoTrainerArgs,
  type LegacyPreferenceObjective,
  type OrpoObjectiveOptions,
  type PreferenceObjective,
  type ReferenceEntry,
  type SimpoObjectiveOptions,
  type TrainerCheckpoint,
  type TrainerGanpoOptions,
  type TrainerMetrics,
} from './trainer/ganpo-trainer';
export { referenceCacheFromBytes, referenceCacheToBytes } from './trainer/reference-cache';
export {
  BatchSampler,
  type BatchSamplerArgs,
  type BatchSamplerState,
  type SampledBatch,
} from './trainer/sampler';
export { syncReference } from './trainer/sync-reference';

// Data in TRL's format: the Tokenizer interface (a byte-level tokenizer with a chat template, and
// Hugging Face tokenizer.json files), JSONL preference data, TRL's prompt extraction, chat templates
// and tokenization
export { type ByteDecodeOptions, ByteTokenizer } from './data/byte-tokenizer';
export { type HfTokenizerOptions, hfTokenizer } from './data/hf-tokenizer';
export {
  DEFAULT_JSONL_LIMITS,
  type JsonlLimits,
  type PreferenceJsonl,
  parsePreferenceJsonl,
} from './data/jsonl';
export {
  applyChatTemplate,
  type PreferenceStrings,
  type TokenizedPreferenceData,
  tokenizePreferenceData,
} from './data/tokenize';
export {
  assertTokenizer,
  type ChatMessage,
  type ChatTemplateOptions,
  type Tokenizer,
} from './data/tokenizer';
export {
  extractPrompt,
  isConversational,
  type PreferenceExample,
  type PreferenceFormat,
  type PreferenceText,
  toPreferenceExample,
} from './data/trl-format';

// IO: safetensors bytes (files: `ganpo/node`)
export {
  readSafetensors,
  SAFETENSORS_MAX_DEPTH,
  SAFETENSORS_MAX_HEADER_BYTES,
  SAFETENSORS_MAX_RANK,
  writeSafetensors,
} from './io/safetensors';
export { latentAnchorLoss } from './latent/anchor';
export type { LatentBatch } from './latent/batch';
