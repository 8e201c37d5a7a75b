export { CausalTransformerBlock, FinalLayerNorm, TokenPositionEmbedding, VocabularyHead } from './layers';
export { type GenerateOptions, TinyLM, type TinyLMConfig, type TinyLMOutput } from './model';
export { causalMaskBias, gelu, layerNorm, linear } from './ops';
export { type SftOptions, sftLoss, sftTrain } from './sft';
