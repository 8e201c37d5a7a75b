// tfjs-layers layers on ganpo's kernels, for users' own transformer models: use them inside
// `tf.sequential` / `tf.model` like `tf.layers.*`; each is registered with
// `tf.serialization.registerClass`, so models holding them save and load with tfjs-layers. Loading
// them also registers the wasm kernels that training a `tf.layers.embedding` (a `gather`) needs on
// wasm (../wasm-training-kernels.ts).
import { registerWasmTrainingKernels } from '../wasm-training-kernels';

export type { LayerArgs } from './common';
export { Dense, type DenseArgs } from './dense';
export { LayerNorm, type LayerNormArgs } from './layer-norm';
export { PositionEmbedding, type PositionEmbeddingArgs } from './position-embedding';
export { TokenEmbedding, type TokenEmbeddingArgs } from './token-embedding';
export { TransformerBlock, type TransformerBlockArgs } from './transformer-block';

registerWasmTrainingKernels();
