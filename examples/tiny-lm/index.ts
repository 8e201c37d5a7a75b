export { type GenerateOptions, TinyLM, type TinyLMConfig, type TinyLMOutput } from './model';
export { type SftOptions, sftLoss, sftTrain } from './sft';
