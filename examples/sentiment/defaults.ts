// The benchmark's default inputs. Each is one argument of `runBenchmark`: swap in your own corpus
// (`textCorpus('mine', texts)`), scorer (`{ name, score(text) }`) or model (a `ModelFactory`).
import { brownCorpus } from './corpus';
import { tinyLmFactory } from './models';
import type { BenchmarkInputs } from './prepare';
import { vaderCompound } from './reward';

/** The default model: a 2-layer, 64-wide byte-level tiny GPT with 64 positions (138 k parameters). */
export const DEFAULT_MODEL = tinyLmFactory({ dim: 64, numLayers: 2, numHeads: 4, maxSeqLen: 64 });

/** The Brown Corpus, VADER's compound score and {@link DEFAULT_MODEL}. */
export function defaultInputs(): BenchmarkInputs {
  return { corpus: brownCorpus(), scorer: vaderCompound(), model: DEFAULT_MODEL };
}
