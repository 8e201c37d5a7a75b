// Public API of ganpo, by layer: each layer uses only the ones above it.

// Core: errors, validation level, the log channel, versions (importing this module also registers
// tfjs's gradients)
export {
  getValidationLevel,
  setValidationLevel,
  type ValidationLevel,
  withValidationLevel,
} from './core/config';
export { GanpoError, type GanpoErrorCode } from './core/errors';
export { setLogger } from './core/log';
export { versions } from './version';

// Log-probabilities of sequences (TRL's names), LD-DPO and WPO weights
export { ldDpoLogProbs } from './logprobs/ld-dpo';
export { causalLogProbs, type SequenceLogProbs, sequenceLogProbs } from './logprobs/sequence-log-probs';
export { wpoLogWeights, wpoWeights } from './logprobs/wpo';

// Preference losses (DPO family, SimPO, ORPO, KTO, BCO) with TRL's names and defaults
export { type BcoLoss, bcoLoss } from './losses/bco';
export { type DpoLossType, dpoLoss } from './losses/dpo';
export type { FDivergence } from './losses/f-divergence';
export { type KtoLoss, type KtoLossType, ktoLoss } from './losses/kto';
export { type PreferenceMetrics, preferenceMetrics } from './losses/metrics';
export { nllLoss } from './losses/nll';
export { type OrpoLoss, orpoLoss } from './losses/orpo';
export { RunningMoments, type RunningMomentsState } from './losses/running-moments';
export { simpoLoss } from './losses/simpo';
export type { PreferenceLoss } from './losses/types';

// Latent losses, one level: the relativistic GAN losses over critic scores and the default
// generator's paired feature matching over critic features (the latent anchor and the latent MMD,
// below, need no critic). GANPO's own critic and policy terms are GanpoRegularizer's methods.
export type { GanLoss } from './divergence/gan-loss';
export { pairedFeatureMatchingLoss } from './divergence/paired-generator';
export { relativisticDiscriminatorLoss, relativisticGeneratorLoss } from './divergence/relativistic';

// Discriminators over latent sequences (TransformerDiscriminator = the official GANPO critic,
// MLPDiscriminator = a light one)
export { MLPDiscriminator, type MLPDiscriminatorConfig } from './discriminators/mlp';
export { TransformerDiscriminator, type TransformerDiscriminatorConfig } from './discriminators/transformer';
export type { Discriminator, DiscriminatorApplyOptions } from './discriminators/types';

// Latent extraction from tfjs-layers models
export { findLayer } from './hooks/find-layer';
export { LatentView } from './hooks/latent-view';
export { LayerOutputHook } from './hooks/layer-output-hook';
export { causalLMFromLayersModel, type LayersCausalLM } from './hooks/layers-causal-lm';

// Optimisation: AdamW with PyTorch semantics, gradient clipping, learning-rate schedules
export { AdamW, type AdamWArgs, type AdamWState } from './optim/adamw';
export { clipGradNorm } from './optim/clip';
export { type LearningRateSchedule, warmupCosineSchedule, warmupLinearSchedule } from './optim/schedules';

// GANPO: the regularizer (two discriminators, six means, their optimizer) and the objective
export { type GanpoLossOutput, ganpoLoss } from './regularizer/ganpo-objective';
export {
  type CriticOptions,
  GANPO_PRESETS,
  type GanpoDiagnostics,
  type GanpoPreset,
  GanpoRegularizer,
  type GanpoRegularizerOptions,
  type GanpoRegularizerState,
  type GeneratorLoss,
  type MeanEstimator,
  type Scoring,
} from './regularizer/ganpo-regularizer';

// Trainer: preference collation, resumable batch order, the whole loop for tfjs causal LMs
export {
  type CollatedSequences,
  type CollateOptions,
  collatePreferencePairs,
  disposePreferenceBatch,
  type PreferenceBatch,
  type PreferencePair,
} from './trainer/collate';
export {
  type CausalLM,
  GanpoTrainer,
  type GanpoTrainerOptions,
  type PreferenceObjective,
  type ReferenceEntry,
  type TrainerMetrics,
  type TrainerRegularizerOptions,
  type TrainerState,
} from './trainer/ganpo-trainer';
export { referenceCacheFromBytes, referenceCacheToBytes } from './trainer/reference-cache';
export { BatchSampler, type BatchSamplerArgs, type BatchSamplerState } from './trainer/sampler';
export { syncReference } from './trainer/sync-reference';

// Data in TRL's format: the Tokenizer interface (a byte-level tokenizer with a chat template, and
// Hugging Face tokenizer.json files), JSONL preference data, TRL's prompt extraction, chat templates
// and tokenization
export { ByteTokenizer } from './data/byte-tokenizer';
export { hfTokenizer } from './data/hf-tokenizer';
export { type JsonlLimits, type PreferenceJsonl, parsePreferenceJsonl } from './data/jsonl';
export { applyChatTemplate, type TokenizedPreferenceData, tokenizePreferenceData } from './data/tokenize';
export type { ChatMessage, ChatTemplateOptions, Tokenizer } from './data/tokenizer';
export {
  extractPrompt,
  isConversational,
  type PreferenceExample,
  type PreferenceText,
} from './data/trl-format';

// IO: safetensors bytes (files: `ganpo/node`)
export { readSafetensors, writeSafetensors } from './io/safetensors';
// The latents every latent loss takes (LatentBatch), the latent anchor (paired) and the latent MMD
// (unpaired): penalties with no critic
export { latentAnchorLoss } from './latent/anchor';
export type { LatentBatch } from './latent/batch';
export { latentMmdLoss } from './latent/mmd';
