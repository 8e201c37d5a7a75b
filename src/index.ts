// Public API of ganpo. Each section re-exports one concept; implementations live in their folders.

export {
  getValidationLevel,
  setValidationLevel,
  type ValidationLevel,
  withValidationLevel,
} from './core/config';
// Core: errors and validation
export { GanpoError, type GanpoErrorCode, type GanpoErrorDetails } from './core/errors';
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
// Ops that tfjs lacks or gets wrong
export { logSigmoid } from './ops/log-sigmoid';
export { sortAscending } from './ops/sort';
export { stopGradient } from './ops/stop-gradient';
