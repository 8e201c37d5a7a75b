// The controlled sentiment generation benchmark end to end (DPO paper, section 6.1): the data of
// prepare.ts, then every recipe of the frontier trained from the SFT model on the same pairs with
// GanpoTrainer, and measured on held-out prompts.
import * as tf from '@tensorflow/tfjs-core';
import { GanpoTrainer, type ReferenceEntry } from 'ganpo';
import { ProgressBar } from '../demo/progress';
import type { SentimentConfig } from './config';
import { measurePolicy, type PolicyMeasures } from './evaluate';
import { CRITIC_SEED, type Family, frontierMethods, type Method } from './methods';
import {
  type BenchmarkInputs,
  type DataSummary,
  type Prepared,
  prepareData,
  type SftSummary,
} from './prepare';

/** One preference run. */
export interface RunResult extends PolicyMeasures {
  seed: number;
  method: string;
  family: Family;
  value: number;
  /** Held-out preference accuracy (implicit reward, `evaluate`) on pairs labelled like the training ones. */
  preferenceAccuracy: number;
  /** Training metrics averaged over the last 10 % of steps (TRL keys + ganpo/*). */
  tail: Record<string, number>;
  trainSeconds: number;
  seconds: number;
}

export interface SentimentResults {
  config: SentimentConfig;
  backend: string;
  data: DataSummary;
  sft: SftSummary;
  runs: RunResult[];
  /** Wall time of the data preparation (SFT, pairs, reference cache) and of the whole process. */
  prepareSeconds: number;
  wallSeconds: number;
}

/** Mean of every numeric metric over the last `n` entries of `history`. */
function tailMeans(history: readonly object[], n: number): Record<string, number> {
  const last = history.slice(-Math.max(1, n)) as Record<string, unknown>[];
  const out: Record<string, number> = {};
  for (const key of Object.keys(last[0] ?? {})) {
    const xs = last.map((h) => h[key]).filter((v): v is number => typeof v === 'number');
    if (xs.length === last.length) out[key] = xs.reduce((a, b) => a + b, 0) / xs.length;
  }
  return out;
}

/** What every run shares: the data, the frozen reference and its cached outputs. */
interface Shared {
  prepared: Prepared;
  reference: Prepared['sft'];
  referenceCache: ReferenceEntry[];
  collate: { padTokenId: number; bosTokenId: number | null; eosTokenId: null; maxLength: null };
  latentDim: number;
  inputs: BenchmarkInputs;
  config: SentimentConfig;
}

/** One recipe at one seed: train a copy of the SFT model, then measure it. */
async function runOne(method: Method, seed: number, s: Shared): Promise<RunResult> {
  const start = performance.now();
  const { prepared, config } = s;
  const policy = prepared.sft.clone();
  const { steps, batchSize, learningRate } = config.training;
  const bar = new ProgressBar(`seed ${seed} ${method.name}`.padEnd(24), steps);
  const trainer = new GanpoTrainer({
    model: { policy, reference: s.reference, latentDim: s.latentDim },
    data: { collate: s.collate, batchSize },
    training: { learningRate, totalSteps: steps, seed },
    objective: method.objective,
    regularizer: method.regularizer,
    logging: { onStep: (m) => bar.update(m.step, { loss: m.loss, accuracy: m['rewards/accuracies'] }) },
  });
  let history: object[];
  let preferenceAccuracy = Number.NaN;
  try {
    trainer.setReferenceCache(s.referenceCache);
    history = await trainer.train(prepared.pairs);
    if (prepared.held.pairs.length > 0) {
      preferenceAccuracy = trainer.evaluate(prepared.held.pairs, 64)['eval_rewards/accuracies'] ?? Number.NaN;
    }
  } finally {
    trainer.dispose();
  }
  const trainSeconds = (performance.now() - start) / 1000;
  const tok = prepared.tokenizer;
  const measures = measurePolicy(
    policy,
    s.reference,
    prepared.held.set,
    (ids) => tok.decode(ids),
    s.inputs.scorer,
    prepared.held.sampling,
  );
  policy.dispose();
  return {
    seed,
    method: method.name,
    family: method.family,
    value: method.value,
    ...measures,
    preferenceAccuracy,
    tail: tailMeans(history, Math.ceil(steps / 10)),
    trainSeconds,
    seconds: (performance.now() - start) / 1000,
  };
}

/**
 * Runs the study; `log` gets one line per stage and per run, `onRun` the results so far after each run
 * (a study stopped midway keeps its finished runs).
 */
export async function runBenchmark(
  inputs: BenchmarkInputs,
  config: SentimentConfig,
  options: {
    cacheDir: string;
    log?: (line: string) => void;
    onRun?: (sofar: SentimentResults) => void;
  },
): Promise<SentimentResults> {
  const log = options.log ?? (() => {});
  const start = performance.now();
  const prepared = await prepareData(inputs, config, options);
  const tok = prepared.tokenizer;
  // Responses are fixed-length cuts of samples, not ends of text: no EOS is appended to them.
  const collate = {
    padTokenId: tok.padTokenId ?? 0,
    bosTokenId: tok.bosTokenId ?? null,
    eosTokenId: null,
    maxLength: null,
  };
  const latentDim = tf.tidy(() => {
    const out = prepared.sft.forward(tf.tensor2d([[0]], [1, 1], 'int32'), { training: false });
    return out.hidden.shape[2];
  });
  // The reference (= SFT model) outputs over the training pairs, computed once, shared by every run.
  const reference = prepared.sft.clone();
  const cacheMaker = new GanpoTrainer({
    model: { policy: prepared.sft, reference, latentDim },
    data: { collate },
    training: { learningRate: config.training.learningRate, totalSteps: 1 },
    // A latent regularizer makes the cache keep the reference's latents too (the anchor builds no critic).
    regularizer: { kind: 'anchor', weight: 1 },
  });
  const referenceCache = cacheMaker.precomputeReference(prepared.pairs, 64);
  cacheMaker.dispose();
  const prepareSeconds = (performance.now() - start) / 1000;
  const shared: Shared = { prepared, reference, referenceCache, collate, latentDim, inputs, config };
  const runs: RunResult[] = [];
  const results = (): SentimentResults => ({
    config,
    backend: tf.getBackend(),
    data: prepared.data,
    sft: prepared.sftSummary,
    runs: [...runs],
    prepareSeconds,
    wallSeconds: (performance.now() - start) / 1000,
  });
  try {
    for (const seed of config.seeds) {
      for (const method of frontierMethods(config.sweeps, CRITIC_SEED)) {
        const r = await runOne(method, seed, shared);
        runs.push(r);
        log(
          `seed ${seed} ${method.name.padEnd(18)} reward ${r.reward.toFixed(3)}, KL ${r.kl.toFixed(2)} nats, ` +
            `drift ${r.drift.toFixed(4)}, win rate ${(100 * r.winRate).toFixed(1)} %, pref acc ` +
            `${(100 * r.preferenceAccuracy).toFixed(1)} % (${r.seconds.toFixed(0)} s)`,
        );
        options.onRun?.(results());
      }
    }
  } finally {
    reference.dispose();
    prepared.sft.dispose();
  }
  return results();
}
