// The benchmark's settings: the full frontier (`npm run sentiment`) and the CI smoke run (`--quick`).

/** The sweeps of one study (an empty list leaves a family out). */
export interface Sweeps {
  beta: readonly number[];
  anchor: readonly number[];
  official: readonly number[];
  mlp: readonly number[];
  transformer: readonly number[];
  /** λ of the default with its critics frozen at initialisation (MLP / transformer critic). */
  mlpFrozen: readonly number[];
  transformerFrozen: readonly number[];
  /** λ of the regularizer's current default (relative feature matching on target critics), MLP / transformer critic. */
  mlpTarget: readonly number[];
  transformerTarget: readonly number[];
}

/** Everything a study depends on besides the model, corpus and scorer (which are arguments). */
export interface SentimentConfig {
  mode: 'full' | 'quick';
  /** Seeds of the preference runs (data order, critics); the SFT model and the pairs are shared. */
  seeds: number[];
  /** Seed of the SFT model's initialisation and data order, of the prompts and of the pair sampling. */
  dataSeed: number;
  sft: {
    steps: number;
    batchSize: number;
    learningRate: number;
    /** Pretraining windows of running text (characters each) drawn from the SFT documents. */
    windows: number;
    windowChars: number;
  };
  prompts: {
    /** Prompts are the first words of sentences, this many characters at least / at most. */
    minChars: number;
    maxChars: number;
    /** Characters the sentence must have after the prompt. */
    restChars: number;
    /** Prompts sampled for training pairs (about a fifth survive the ties) and held out for evaluation. */
    pairs: number;
    eval: number;
  };
  /** Length of every continuation, in tokens (bytes). */
  continuationTokens: number;
  /** Sampling temperature of the pairs and of the evaluation samples (the SFT distribution: 1). */
  temperature: number;
  training: {
    steps: number;
    batchSize: number;
    /** Peak policy learning rate (10 % warm-up, cosine decay: the trainer's default schedule). */
    learningRate: number;
  };
  sweeps: Sweeps;
}

/** The presets; `seeds` and `sweeps` can be overridden from the command line. */
export function sentimentConfig(mode: 'full' | 'quick'): SentimentConfig {
  if (mode === 'quick') {
    return {
      mode,
      seeds: [1],
      dataSeed: 1,
      sft: { steps: 60, batchSize: 16, learningRate: 3e-3, windows: 2000, windowChars: 56 },
      prompts: { minChars: 12, maxChars: 24, restChars: 24, pairs: 96, eval: 32 },
      continuationTokens: 16,
      temperature: 1,
      training: { steps: 6, batchSize: 4, learningRate: 5e-4 },
      sweeps: {
        beta: [0.1, 1],
        anchor: [1],
        official: [1],
        mlp: [1],
        transformer: [1],
        mlpFrozen: [1],
        transformerFrozen: [],
        mlpTarget: [],
        transformerTarget: [],
      },
    };
  }
  return {
    mode,
    seeds: [1, 2, 3],
    dataSeed: 1,
    sft: { steps: 2000, batchSize: 32, learningRate: 2e-3, windows: 40000, windowChars: 56 },
    prompts: { minChars: 12, maxChars: 24, restChars: 24, pairs: 4500, eval: 512 },
    continuationTokens: 32,
    temperature: 1,
    training: { steps: 150, batchSize: 16, learningRate: 5e-4 },
    sweeps: {
      beta: [0.03, 0.1, 0.3, 1, 3],
      // λ 1 and 3 for the anchor and both GANPO defaults, λ 1 for the official preset and the frozen
      // critics (λ 0 of each is DPO β 0.1 itself): about 100 minutes on a loaded 2-core machine
      // (README, "Real-text benchmark"); --lambdas sweeps more.
      anchor: [1, 3],
      official: [1],
      mlp: [1, 3],
      transformer: [1, 3],
      mlpFrozen: [1],
      transformerFrozen: [1],
      mlpTarget: [1, 3],
      transformerTarget: [1, 3],
    },
  };
}
