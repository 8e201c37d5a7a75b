// Public API of ganpo. Each section re-exports one concept; implementations live in their folders.

export {
  getValidationLevel,
  setValidationLevel,
  type ValidationLevel,
  withValidationLevel,
} from './core/config';
// Core: errors and validation
export { GanpoError, type GanpoErrorCode, type GanpoErrorDetails } from './core/errors';
// Discriminators over latent sequences (TransformerDiscriminator = the official GANPO critic,
// MLPDiscriminator = a light one), their checkpoint formats, and the fast kernels they use.
export { MLPDiscriminator, type MLPDiscriminatorConfig } from './discriminators/mlp';
export type { HandlerOrUrl } from './discriminators/persist';
export { TransformerDiscriminator, type TransformerDiscriminatorConfig } from './discriminators/transformer';
export type { Discriminator, DiscriminatorApplyOptions } from './discriminators/types';
export { readSafetensors, SAFETENSORS_MAX_HEADER_BYTES, writeSafetensors } from './io/safetensors';
export { type AttentionImpl, type SelfAttentionCoreArgs, selfAttentionCore } from './ops/attention';
export { fastLinear } from './ops/fast-linear';
export { geluErf } from './ops/gelu';
export { layerNorm } from './ops/layer-norm';
// Ops that tfjs lacks or gets wrong
export { logSigmoid } from './ops/log-sigmoid';
export { stopGradient } from './ops/stop-gradient';
