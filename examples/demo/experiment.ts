// The end-to-end experiment of `npm run demo`: per seed, SFT of the tiny LM, then the base preference
// loss and GANPO (official and default configurations, at one or several λ) from that same SFT start,
// under clean or flipped training labels. Each trained policy is measured against the SFT model (which
// is also the frozen reference): latent drift and KL on held-out data, preference accuracy, and judged
// win rates of sampled answers on held-out and shifted prompts at several temperatures.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { GanpoTrainer, type PreferencePair, type ReferenceEntry } from 'ganpo';
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
import { CharTokenizer } from '../tokenizers/char-tokenizer';
import { FRONTIER_CRITIC_SEED, FRONTIER_SWEEPS, frontierMethods } from './frontier-methods';
import {
  DEFAULT_LAMBDA,
  type Family,
  type MethodSpec,
  type OBJECTIVES,
  OFFICIAL_GANPO,
  OFFICIAL_LAMBDA,
  SWEEP_LAMBDAS,
  studyMethods,
} from './methods';
import { completionKl, latentDrift } from './metrics';
import { ProgressBar } from './progress';

/**
 * Which preset: `default` (`npm run demo`), `full` (`--full`), `quick` (`--quick`, CI) or
 * `frontier` (`--frontier`).
 */
export type DemoMode = 'default' | 'full' | 'quick' | 'frontier';

/** Everything the experiment depends on; {@link demoConfig} gives the three presets. */
export interface DemoConfig {
  mode: DemoMode;
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

/**
 * The presets. `default` answers the main question in a few minutes: the base loss, the official
 * GANPO and the package's default GANPO, each at its own λ, clean labels, 3 seeds. `full` adds the λ
 * sweep of both GANPO configurations and 20 / 40 % flipped labels. `quick` is a CI smoke run.
 * `frontier` runs the recipes of {@link frontierMethods} (DPO's β sweep against the latent anchor and
 * GANPO over λ) with the default's steps, data and seeds, clean labels, sampling at T = 1 only.
 */
export function demoConfig(mode: DemoMode, objective: keyof typeof OBJECTIVES = 'dpo'): DemoConfig {
  const quick = mode === 'quick';
  const lambdas =
    mode === 'full'
      ? { official: [...SWEEP_LAMBDAS], default: [...SWEEP_LAMBDAS] }
      : { official: [OFFICIAL_LAMBDA], default: [DEFAULT_LAMBDA] };
  const frontier = mode === 'frontier';
  return {
    mode,
    seeds: quick ? [1] : [1, 2, 3],
    sftSteps: quick ? 120 : 400,
    sftLearningRate: 2e-3,
    steps: quick ? 12 : 150,
    batchSize: 16,
    learningRate: 5e-4,
    trainSize: quick ? 400 : 2000,
    evalSize: quick ? 40 : 200,
    noiseLevels: mode === 'default' || frontier ? [0] : [0, 0.2, 0.4],
    temperatures: frontier ? [1.0] : [0.7, 1.0, 1.5],
    trainDigits: [3, 6],
    shiftedDigits: [7, 8],
    model: { dim: 64, numLayers: 2, numHeads: 4, maxSeqLen: 32 },
    methods: frontier
      ? frontierMethods(FRONTIER_SWEEPS, FRONTIER_CRITIC_SEED)
      : studyMethods(objective, lambdas, 7),
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
  family: Family;
  /** Adversarial weight λ (0 = the base loss alone). */
  lambda: number;
  noise: number;
  /** Implicit-reward accuracy on held-out and shifted pairs with clean labels (`evaluate`). */
  preferenceAccuracy: { heldout: number; shifted: number };
  /**
   * Latent drift Σ‖h_θ − h_ref‖² / Σ‖h_ref‖² of the last hidden state over every real token of the
   * split's prompt+chosen and prompt+rejected sequences.
   */
  drift: { heldout: number; shifted: number };
  /** Mean summed token KL(π_θ ‖ π_ref) over completions the policy sampled at T = 1 (nats). */
  kl: { heldout: number; shifted: number };
  /** Judged win rate of sampled answers against the SFT model's (ties count ½). */
  winRate: BySplit<number>;
  generation: BySplit<GenerationScores>;
  /** Last-step training metrics (TRL keys + ganpo/*). */
  final: Record<string, number | boolean>;
  /** Numeric training metrics averaged over the last 10 % of steps (less noisy than the last step). */
  tail: Record<string, number>;
  skippedSteps: number;
  /** Training time and the whole run's time (training + evaluation). */
  trainSeconds: number;
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
/** Longest sampled answer: a few tokens of slack over the longest correct one (8 digits, shifted split). */
const MAX_NEW_TOKENS = 12;

/** Samples answers of `lm` to `prompts` (token ids without EOS); the sampler seed is shared by all models. */
function sample(lm: TinyLM, tok: CharTokenizer, prompts: number[][], temperature: number, seed: number) {
  return lm.generate(prompts, {
    maxNewTokens: MAX_NEW_TOKENS,
    temperature,
    eosTokenId: tok.eosId,
    padTokenId: tok.padId,
    seed,
  });
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

/** Mean of every numeric metric over the last `n` entries of `history`. */
function tailMeans(history: readonly Record<string, unknown>[], n: number): Record<string, number> {
  const last = history.slice(-Math.max(1, n));
  const out: Record<string, number> = {};
  for (const key of Object.keys(last[0] ?? {})) {
    const xs = last.map((h) => h[key]).filter((v): v is number => typeof v === 'number');
    if (xs.length === last.length) out[key] = xs.reduce((a, b) => a + b, 0) / xs.length;
  }
  return out;
}

const SPLITS = ['heldout', 'shifted'] as const;

/**
 * The SFT model of one seed: trained here, or loaded from `cacheDir` when an earlier process of the
 * same settings saved it there (weights are stored exactly, so every later run is unchanged; this
 * only saves the SFT time when a study is split over several processes).
 */
async function sftModel(
  config: DemoConfig,
  seed: number,
  tok: CharTokenizer,
  train: readonly TextPair[],
  collate: { padTokenId: number; eosTokenId: number; maxLength: number },
  cacheDir: string | undefined,
): Promise<{ lm: TinyLM; finalLoss: number }> {
  const key = JSON.stringify([
    seed,
    config.model,
    config.sftSteps,
    config.sftLearningRate,
    config.trainSize,
    config.trainDigits,
  ]);
  const dir =
    cacheDir === undefined
      ? undefined
      : join(cacheDir, `sft-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`);
  if (dir !== undefined && existsSync(join(dir, 'loss.json'))) {
    const { finalLoss } = JSON.parse(readFileSync(join(dir, 'loss.json'), 'utf8')) as { finalLoss: number };
    return { lm: TinyLM.load(dir), finalLoss };
  }
  const lm = new TinyLM({ vocabSize: tok.vocabSize, ...config.model, seed });
  const bar = new ProgressBar(`seed ${seed} SFT`, config.sftSteps);
  const { losses } = sftTrain({
    lm,
    pairs: encodePairs(tok, train),
    collate,
    steps: config.sftSteps,
    batchSize: 32,
    learningRate: config.sftLearningRate,
    seed,
    onStep: ({ step, loss }) => bar.update(step + 1, { loss }),
  });
  const finalLoss = losses.at(-1) ?? Number.NaN;
  if (dir !== undefined) {
    await lm.save(dir);
    writeFileSync(join(dir, 'loss.json'), JSON.stringify({ key, finalLoss }));
  }
  return { lm, finalLoss };
}

/** Runs the whole experiment; `log` receives human-readable lines (stdout in the demo). */
export async function runExperiment(
  config: DemoConfig,
  log: (line: string) => void = () => {},
  options: { sftCache?: string } = {},
): Promise<DemoResults> {
  const start = performance.now();
  const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
  const collate = { padTokenId: tok.padId, eosTokenId: tok.eosId, maxLength: config.model.maxSeqLen };
  const klOptions = { padTokenId: tok.padId, eosTokenId: tok.eosId, maxNewTokens: MAX_NEW_TOKENS };
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
    const promptIds = {
      heldout: encodePrompts(tok, prompts.heldout),
      shifted: encodePrompts(tok, prompts.shifted),
    };
    const sampleSeed = 1000 + seed;

    // 1. SFT: the common start (and the frozen reference) of every preference run of this seed.
    const sftStart = performance.now();
    const { lm: sft, finalLoss } = await sftModel(config, seed, tok, splits.train, collate, options.sftCache);
    const sftAnswers: BySplit<string[]> = { heldout: {}, shifted: {} };
    const sftGen: BySplit<GenerationScores> = { heldout: {}, shifted: {} };
    for (const split of SPLITS) {
      for (const t of config.temperatures) {
        const a = sample(sft, tok, promptIds[split], t, sampleSeed).map((x) => tok.decode(x));
        sftAnswers[split][tempKey(t)] = a;
        sftGen[split][tempKey(t)] = scoreAnswers(prompts[split], a);
      }
    }
    const sftResult: SftResult = {
      seed,
      finalLoss,
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
      model: { policy: sft, reference, latentDim: config.model.dim },
      data: { collate },
      training: { learningRate: config.learningRate, totalSteps: 1 },
      regularizer: { ...OFFICIAL_GANPO, seed: 0 },
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
        const runBar = new ProgressBar(label.padEnd(34), config.steps);
        let skipped = 0;
        const trainer = new GanpoTrainer({
          model: { policy, reference, latentDim: config.model.dim },
          data: { collate, batchSize: config.batchSize },
          training: { learningRate: config.learningRate, totalSteps: config.steps, seed },
          regularizer: method.regularizer,
          logging: {
            onStep: (m) => {
              if (m.skipped) skipped += 1;
              runBar.update(m.step, { loss: m.loss, accuracy: m['rewards/accuracies'] });
            },
          },
          objective: method.objective,
        });
        trainer.setReferenceCache(cache);
        const history = await trainer.train(trainPairs);
        const trainSeconds = (performance.now() - runStart) / 1000;
        const preferenceAccuracy = {
          heldout: trainer.evaluate(evalPairs.heldout, 50)['eval_rewards/accuracies'] ?? Number.NaN,
          shifted: trainer.evaluate(evalPairs.shifted, 50)['eval_rewards/accuracies'] ?? Number.NaN,
        };
        trainer.dispose();
        const wr: BySplit<number> = { heldout: {}, shifted: {} };
        const gen: BySplit<GenerationScores> = { heldout: {}, shifted: {} };
        const drift = { heldout: Number.NaN, shifted: Number.NaN };
        const kl = { heldout: Number.NaN, shifted: Number.NaN };
        for (const split of SPLITS) {
          drift[split] = latentDrift(policy, reference, evalPairs[split], collate);
          for (const t of config.temperatures) {
            const ids = sample(policy, tok, promptIds[split], t, sampleSeed);
            const a = ids.map((x) => tok.decode(x));
            wr[split][tempKey(t)] = winRate(prompts[split], a, sftAnswers[split][tempKey(t)] as string[]);
            gen[split][tempKey(t)] = scoreAnswers(prompts[split], a);
            if (t === 1) kl[split] = completionKl(policy, reference, promptIds[split], ids, klOptions);
          }
          // KL is defined on the policy's own (T = 1) samples: draw them when T = 1 is not evaluated.
          if (!config.temperatures.includes(1)) {
            const ids = sample(policy, tok, promptIds[split], 1, sampleSeed);
            kl[split] = completionKl(policy, reference, promptIds[split], ids, klOptions);
          }
        }
        policy.dispose();
        const last = history.at(-1);
        const final: Record<string, number | boolean> = {};
        if (last) for (const [k, v] of Object.entries(last)) final[k] = v as number | boolean;
        runs.push({
          seed,
          method: method.name,
          family: method.family,
          lambda: method.lambda,
          noise,
          preferenceAccuracy,
          drift,
          kl,
          winRate: wr,
          generation: gen,
          final,
          tail: tailMeans(history as unknown as Record<string, unknown>[], Math.ceil(config.steps / 10)),
          skippedSteps: skipped,
          trainSeconds,
          seconds: (performance.now() - runStart) / 1000,
        });
        log(
          `${label}: drift ${drift.heldout.toFixed(4)}, KL ${kl.heldout.toFixed(3)} nats, pref acc ${(100 * preferenceAccuracy.heldout).toFixed(1)} %, win rate vs SFT @T=1.0 ${(100 * (wr.heldout['1.0'] ?? Number.NaN)).toFixed(1)} % held-out, ${(100 * (wr.shifted['1.0'] ?? Number.NaN)).toFixed(1)} % shifted (${((performance.now() - runStart) / 1000).toFixed(0)} s)`,
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
