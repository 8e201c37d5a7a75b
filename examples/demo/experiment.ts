// The end-to-end experiment of `npm run demo`: per seed, SFT of the tiny LM, then DPO, DPO+GANPO,
// SimPO and SimPO+GANPO from that same SFT start under 0/20/40 % flipped training labels; each
// trained policy is judged against the SFT model on held-out and shifted prompts.
import * as tf from '@tensorflow/tfjs-core';
import {
  CharTokenizer,
  GanpoTrainer,
  type PreferenceObjective,
  type PreferencePair,
  type ReferenceEntry,
  type TrainerGanpoOptions,
} from '../../src/index';
import {
  encodePairs,
  encodePrompts,
  flipLabels,
  judge,
  makeTaskSplits,
  TASK_ALPHABET,
  type TextPair,
  winRate,
} from '../task/index';
import { sftTrain, TinyLM } from '../tiny-lm/index';
import { ProgressBar } from './progress';

/** Everything the experiment depends on; {@link demoConfig} gives the full and quick settings. */
export interface DemoConfig {
  seeds: number[];
  /** SFT optimizer steps (batch 32). */
  sftSteps: number;
  sftLearningRate: number;
  /** Preference optimizer steps per run. */
  steps: number;
  batchSize: number;
  /** Peak policy learning rate of preference training (warm-up 10 % + cosine, official schedule). */
  learningRate: number;
  trainSize: number;
  /** Prompts of each evaluation split (held-out and shifted). */
  evalSize: number;
  noiseLevels: number[];
  temperatures: number[];
  /** Digit-string lengths of train/held-out and of the shifted split. */
  trainDigits: [number, number];
  shiftedDigits: [number, number];
  model: { dim: number; numLayers: number; numHeads: number; maxSeqLen: number };
  methods: MethodSpec[];
}

/** One preference-training recipe. */
export interface MethodSpec {
  name: string;
  objective: PreferenceObjective;
  ganpo: TrainerGanpoOptions | false;
}

/**
 * GANPO for a 64-wide, 2-layer LM: the package's small-model discriminator (masked mean-pool, then a
 * spectral-normalised MLP 64 → 256 → 256 → 1, its defaults) rather than the official transformer
 * critic. A transformer critic scaled down to this model (hidden 64, 1 layer, 4 heads) cost ~6× a
 * plain DPO step here on wasm, the MLP ~1.6×, and the quick run must fit in CI. λ = 1 and the
 * discriminator at half the policy's learning rate on the same schedule follow the official runs;
 * masked pooling keeps padding out of the critic's view.
 */
export const GANPO_SETTINGS: TrainerGanpoOptions = {
  kind: 'mlp',
  weight: 1,
  learningRateRatio: 0.5,
};

/** The four recipes compared (DPO and SimPO, each with and without GANPO); β values are the TRL / SimPO defaults. */
export function defaultMethods(ganpoSeed: number): MethodSpec[] {
  const dpo: PreferenceObjective = { type: 'dpo', beta: 0.1 }; // TRL default, official GANPO runs
  const simpo: PreferenceObjective = { type: 'simpo', beta: 2.0, gammaBetaRatio: 0.25 }; // SimPO default config
  const ganpo = { ...GANPO_SETTINGS, seed: ganpoSeed };
  return [
    { name: 'DPO', objective: dpo, ganpo: false },
    { name: 'DPO+GANPO', objective: dpo, ganpo },
    { name: 'SimPO', objective: simpo, ganpo: false },
    { name: 'SimPO+GANPO', objective: simpo, ganpo },
  ];
}

/** Full (`npm run demo`) or quick (`--quick`, CI) settings. */
export function demoConfig(quick: boolean): DemoConfig {
  return {
    seeds: quick ? [1] : [1, 2, 3],
    sftSteps: quick ? 120 : 400,
    sftLearningRate: 2e-3,
    steps: quick ? 12 : 150,
    batchSize: 16,
    learningRate: 5e-4,
    trainSize: quick ? 400 : 2000,
    evalSize: quick ? 40 : 200,
    noiseLevels: [0, 0.2, 0.4],
    temperatures: [0.7, 1.0, 1.5],
    trainDigits: [3, 6],
    shiftedDigits: [7, 8],
    model: { dim: 64, numLayers: 2, numHeads: 4, maxSeqLen: 32 },
    methods: defaultMethods(7),
  };
}

/** Generation quality of one model on one split at one temperature. */
export interface GenerationScores {
  /** Fraction of exactly correct answers. */
  exact: number;
  /** Mean judge score (1 − normalised edit distance). */
  score: number;
}

/** Split name → temperature (as a string key, e.g. "0.7") → value. */
export type BySplit<T> = Record<'heldout' | 'shifted', Record<string, T>>;

/** The SFT starting point of one seed. */
export interface SftResult {
  seed: number;
  finalLoss: number;
  seconds: number;
  generation: BySplit<GenerationScores>;
}

/** One preference-training run. */
export interface RunResult {
  seed: number;
  method: string;
  noise: number;
  /** Implicit-reward accuracy on held-out and shifted pairs with clean labels (`evaluate`). */
  preferenceAccuracy: { heldout: number; shifted: number };
  /** Judged win rate of sampled answers against the SFT model's (ties count ½). */
  winRate: BySplit<number>;
  generation: BySplit<GenerationScores>;
  /** Last-step training metrics (TRL keys + ganpo/*) and skipped-step count. */
  final: Record<string, number | boolean>;
  skippedSteps: number;
  seconds: number;
}

export interface DemoResults {
  config: DemoConfig;
  backend: string;
  sft: SftResult[];
  runs: RunResult[];
  wallSeconds: number;
}

const tempKey = (t: number): string => t.toFixed(1);

/** Samples answers of `lm` to `prompts` (decoded text); the sampler seed is shared by all models. */
function sample(
  lm: TinyLM,
  tok: CharTokenizer,
  prompts: string[],
  temperature: number,
  seed: number,
): string[] {
  // A few tokens of slack over the longest correct answer (8 digits on the shifted split).
  const answers = lm.generate(encodePrompts(tok, prompts), {
    maxNewTokens: 12,
    temperature,
    eosTokenId: tok.eosId,
    padTokenId: tok.padId,
    seed,
  });
  return answers.map((a) => tok.decode(a));
}

function scoreAnswers(prompts: string[], answers: string[]): GenerationScores {
  const j = prompts.map((p, i) => judge(p, answers[i] as string));
  return {
    exact: j.filter((x) => x.correct).length / j.length,
    score: j.reduce((s, x) => s + x.score, 0) / j.length,
  };
}

/** Swaps the chosen and rejected halves of a reference cache entry (for flipped labels). */
function swapEntry(e: ReferenceEntry): ReferenceEntry {
  return {
    chosenLogp: e.rejectedLogp,
    rejectedLogp: e.chosenLogp,
    chosenLength: e.rejectedLength,
    rejectedLength: e.chosenLength,
    ...(e.rejectedLatents ? { chosenLatents: e.rejectedLatents } : {}),
    ...(e.chosenLatents ? { rejectedLatents: e.chosenLatents } : {}),
  };
}

/** Runs the whole experiment; `log` receives human-readable lines (stdout in the demo). */
export async function runExperiment(
  config: DemoConfig,
  log: (line: string) => void = () => {},
): Promise<DemoResults> {
  const start = performance.now();
  const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
  const collate = { padTokenId: tok.padId, eosTokenId: tok.eosId, maxLength: config.model.maxSeqLen };
  const sftResults: SftResult[] = [];
  const runs: RunResult[] = [];
  for (const seed of config.seeds) {
    const splits = makeTaskSplits({
      seed,
      trainSize: config.trainSize,
      testSize: config.evalSize,
      shiftedSize: config.evalSize,
      trainDigits: config.trainDigits,
      shiftedDigits: config.shiftedDigits,
    });
    const evalSets: Record<'heldout' | 'shifted', TextPair[]> = {
      heldout: splits.test,
      shifted: splits.shifted,
    };
    const prompts = {
      heldout: splits.test.map((p) => p.prompt),
      shifted: splits.shifted.map((p) => p.prompt),
    };
    const sampleSeed = 1000 + seed;

    // 1. SFT: the common start (and the frozen reference) of every preference run of this seed.
    const sft = new TinyLM({ vocabSize: tok.vocabSize, ...config.model, seed });
    const sftStart = performance.now();
    const bar = new ProgressBar(`seed ${seed} SFT`, config.sftSteps);
    const { losses } = sftTrain({
      lm: sft,
      pairs: encodePairs(tok, splits.train),
      collate,
      steps: config.sftSteps,
      batchSize: 32,
      learningRate: config.sftLearningRate,
      seed,
      onStep: ({ step, loss }) => bar.update(step + 1, { loss }),
    });
    const sftAnswers: BySplit<string[]> = { heldout: {}, shifted: {} };
    const sftGen: BySplit<GenerationScores> = { heldout: {}, shifted: {} };
    for (const split of ['heldout', 'shifted'] as const) {
      for (const t of config.temperatures) {
        const a = sample(sft, tok, prompts[split], t, sampleSeed);
        sftAnswers[split][tempKey(t)] = a;
        sftGen[split][tempKey(t)] = scoreAnswers(prompts[split], a);
      }
    }
    const sftResult: SftResult = {
      seed,
      finalLoss: losses.at(-1) ?? Number.NaN,
      seconds: (performance.now() - sftStart) / 1000,
      generation: sftGen,
    };
    sftResults.push(sftResult);
    log(
      `seed ${seed}: SFT loss ${sftResult.finalLoss.toFixed(3)}, exact@T=1.0 held-out ${(100 * (sftGen.heldout['1.0']?.exact ?? 0)).toFixed(1)} %, shifted ${(100 * (sftGen.shifted['1.0']?.exact ?? 0)).toFixed(1)} % (${sftResult.seconds.toFixed(0)} s)`,
    );

    // 2. The reference (= SFT model) cache, computed once per seed and shared by every run: flipped
    // labels only swap which half of an entry is "chosen".
    const reference = sft.clone();
    const cleanPairs = encodePairs(tok, splits.train);
    const cacheMaker = new GanpoTrainer({
      policy: sft,
      reference,
      hiddenSize: config.model.dim,
      collate,
      learningRate: config.learningRate,
      totalSteps: 1,
      ganpo: { ...GANPO_SETTINGS, seed: 0 },
    });
    const cleanCache = cacheMaker.precomputeReference(cleanPairs, 100);
    cacheMaker.dispose();
    const evalPairs = {
      heldout: encodePairs(tok, evalSets.heldout),
      shifted: encodePairs(tok, evalSets.shifted),
    };

    for (const noise of config.noiseLevels) {
      const { pairs: noisy, flipped } = flipLabels(splits.train, noise, seed);
      const trainPairs: PreferencePair[] = encodePairs(tok, noisy);
      const cache = cleanCache.map((e, i) => (flipped[i] ? swapEntry(e) : e));
      for (const method of config.methods) {
        const policy = sft.clone();
        const runStart = performance.now();
        const label = `seed ${seed} noise ${Math.round(100 * noise)}% ${method.name}`;
        const runBar = new ProgressBar(label.padEnd(30), config.steps);
        let skipped = 0;
        const trainer = new GanpoTrainer({
          policy,
          reference,
          hiddenSize: config.model.dim,
          objective: method.objective,
          ganpo: method.ganpo,
          collate,
          learningRate: config.learningRate,
          batchSize: config.batchSize,
          totalSteps: config.steps,
          seed,
          onStep: (m) => {
            if (m.skipped) skipped += 1;
            runBar.update(m.step, { loss: m.loss, accuracy: m['rewards/accuracies'] });
          },
        });
        trainer.setReferenceCache(cache);
        const history = await trainer.train(trainPairs);
        const preferenceAccuracy = {
          heldout: trainer.evaluate(evalPairs.heldout, 50)['eval_rewards/accuracies'] ?? Number.NaN,
          shifted: trainer.evaluate(evalPairs.shifted, 50)['eval_rewards/accuracies'] ?? Number.NaN,
        };
        trainer.dispose();
        const wr: BySplit<number> = { heldout: {}, shifted: {} };
        const gen: BySplit<GenerationScores> = { heldout: {}, shifted: {} };
        for (const split of ['heldout', 'shifted'] as const) {
          for (const t of config.temperatures) {
            const a = sample(policy, tok, prompts[split], t, sampleSeed);
            wr[split][tempKey(t)] = winRate(prompts[split], a, sftAnswers[split][tempKey(t)] as string[]);
            gen[split][tempKey(t)] = scoreAnswers(prompts[split], a);
          }
        }
        policy.dispose();
        const last = history.at(-1);
        const final: Record<string, number | boolean> = {};
        if (last) for (const [k, v] of Object.entries(last)) final[k] = v as number | boolean;
        runs.push({
          seed,
          method: method.name,
          noise,
          preferenceAccuracy,
          winRate: wr,
          generation: gen,
          final,
          skippedSteps: skipped,
          seconds: (performance.now() - runStart) / 1000,
        });
        log(
          `${label}: pref acc ${(100 * preferenceAccuracy.heldout).toFixed(1)} %, win rate vs SFT @T=1.0 ${(100 * (wr.heldout['1.0'] ?? Number.NaN)).toFixed(1)} % held-out, ${(100 * (wr.shifted['1.0'] ?? Number.NaN)).toFixed(1)} % shifted (${((performance.now() - runStart) / 1000).toFixed(0)} s)`,
        );
      }
    }
    reference.dispose();
    sft.dispose();
  }
  return {
    config,
    backend: tf.getBackend(),
    sft: sftResults,
    runs,
    wallSeconds: (performance.now() - start) / 1000,
  };
}
