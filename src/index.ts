// Public API of ganpo. Each section re-exports one concept; implementations live in their folders.

export {
  getValidationLevel,
  setValidationLevel,
  type ValidationLevel,
  withValidationLevel,
} from './core/config';
// Core: errors and validation
export { GanpoError, type GanpoErrorCode, type GanpoErrorDetails } from './core/errors';
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
