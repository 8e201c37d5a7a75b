// `ganpo/ops`: the differentiable kernels ganpo's discriminators are built from, for users who write
// their own `Discriminator` or model in tfjs, and two ops tfjs lacks. Each kernel has a hand-written
// gradient that keeps the wasm backend on its fast paths (XNNPACK 2-D matMul without transpose flags,
// few large kernels); they work on every backend. Importing this entry also registers tfjs's
// gradients (see `versions`).
export { type AttentionImpl, type SelfAttentionCoreArgs, selfAttentionCore } from './ops/attention';
export { embeddingLookup } from './ops/embedding-lookup';
export { fastLinear } from './ops/fast-linear';
export { geluErf } from './ops/gelu';
export { layerNorm } from './ops/layer-norm';
export {
  Dense,
  type DenseArgs,
  type LayerArgs,
  LayerNorm,
  type LayerNormArgs,
  PositionEmbedding,
  type PositionEmbeddingArgs,
  TokenEmbedding,
  type TokenEmbeddingArgs,
  TransformerBlock,
  type TransformerBlockArgs,
} from './ops/layers/index';
export { withLeanGradients } from './ops/lean-gradients';
export { logSigmoid } from './ops/log-sigmoid';
export { sortAscending } from './ops/sort';
export { stopGradient } from './ops/stop-gradient';
export {
  type TransformerBlockOptions,
  type TransformerBlockWeights,
  transformerBlock,
} from './ops/transformer-block';
export { withSharedClones } from './ops/wasm/shared-clone';
export { versions } from './version';
