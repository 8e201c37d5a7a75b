// The benchmark's default model: the examples' tiny GPT (`examples/tiny-lm`) over bytes. Any other
// `ModelFactory` swaps it: a tfjs-layers LM wrapped as a ganpo `CausalLM` (see docs/guide.md) with
// `clone()` and `dispose()`.
import { TinyLM, type TinyLMConfig } from '../tiny-lm/index';
import type { ModelFactory } from './sft';

/** A {@link ModelFactory} of `TinyLM`s with the given size (vocabulary and seed come from the benchmark). */
export function tinyLmFactory(config: Omit<TinyLMConfig, 'vocabSize' | 'seed'>): ModelFactory {
  return {
    name: `tiny-lm ${JSON.stringify(config)}`,
    create: (vocabSize, seed) => new TinyLM({ ...config, vocabSize, seed }),
  };
}
