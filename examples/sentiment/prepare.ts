// The benchmark's data preparation, before any preference training: the SFT model pretrained on the
// corpus (cached), the training pairs sampled from it and labelled by the reward (written as TRL JSONL
// in the cache folder and read back), and the held-out evaluation set. The model, the corpus and the
// scorer are its three arguments.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ByteTokenizer, type PreferencePair, type Tokenizer } from 'ganpo';
import { ProgressBar } from '../demo/progress';
import type { SentimentConfig } from './config';
import type { Corpus } from './corpus';
import {
  labelPairs,
  promptIds,
  promptsOf,
  readPairs,
  sftWindows,
  splitCorpus,
  writePairsJsonl,
} from './data';
import type { EvalSet } from './evaluate';
import type { Scorer } from './reward';
import { type SampleOptions, sampleContinuations } from './sample';
import { type BenchmarkModel, cachedSft, type ModelFactory, pretrain } from './sft';

/** The three swappable parts of the benchmark. */
export interface BenchmarkInputs {
  corpus: Corpus;
  scorer: Scorer;
  model: ModelFactory;
  /** Default `new ByteTokenizer()`. */
  tokenizer?: Tokenizer;
}

/** How the data came out: the sizes the report states. */
export interface DataSummary {
  corpus: string;
  documents: { sft: number; pairs: number; eval: number };
  sftWindows: number;
  sftCharacters: number;
  pairPrompts: number;
  pairs: number;
  ties: number;
  stopped: number;
  evalPrompts: number;
  evalPairs: number;
  /** Mean reward of the chosen and rejected continuations of the training pairs. */
  chosenReward: number;
  rejectedReward: number;
  /** Wall time of the pair sampling and labelling (0 when read from the cache). */
  pairSeconds: number;
}

/** The SFT model: size, cost and its own measures (KL and drift are 0 by definition). */
export interface SftSummary {
  model: string;
  parameters: number;
  finalLoss: number;
  seconds: number;
  cached: boolean;
  reward: number;
  examples: string[];
}

/** Everything the preference runs start from. */
export interface Prepared {
  tokenizer: Tokenizer;
  sft: BenchmarkModel;
  /** Training pairs as token ids (prompts without BOS: the collator adds it). */
  pairs: PreferencePair[];
  /** Held-out prompts, the SFT model's samples on them, and the pairs labelled from those. */
  held: { set: EvalSet; pairs: PreferencePair[]; sampling: SampleOptions };
  data: DataSummary;
  sftSummary: SftSummary;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);

/** The training pairs: read from the cache folder, or sampled from the SFT model, written, and read back. */
async function trainingPairs(
  sft: BenchmarkModel,
  tok: Tokenizer,
  prompts: string[],
  inputs: BenchmarkInputs,
  config: SentimentConfig,
  cacheDir: string,
  key: string,
) {
  const file = `pairs-${key}.jsonl`;
  const statsFile = join(cacheDir, `pairs-${key}.json`);
  let stats: { ties: number; stopped: number; seconds: number };
  if (existsSync(statsFile)) {
    stats = { ...(JSON.parse(readFileSync(statsFile, 'utf8')) as typeof stats), seconds: 0 };
  } else {
    const start = performance.now();
    const labelled = labelPairs({
      model: sft,
      tokenizer: tok,
      prompts,
      scorer: inputs.scorer,
      temperature: config.temperature,
      maxNewTokens: config.continuationTokens,
      seed: config.dataSeed,
    });
    writePairsJsonl(cacheDir, file, labelled.pairs);
    stats = { ties: labelled.ties, stopped: labelled.stopped, seconds: (performance.now() - start) / 1000 };
    writeFileSync(statsFile, JSON.stringify(stats));
  }
  const lines = readFileSync(join(cacheDir, file), 'utf8')
    .split('\n')
    .filter((l) => l !== '');
  if (lines.length === 0) {
    throw new Error(
      `no preference pairs: all ${prompts.length} prompts tied or stopped early; use more prompts or a scorer ` +
        'that separates more continuations',
    );
  }
  const scores = lines.map((l) => JSON.parse(l) as { score_chosen: number; score_rejected: number });
  return {
    ...(await readPairs(cacheDir, file, tok)),
    ...stats,
    chosenReward: mean(scores.map((s) => s.score_chosen)),
    rejectedReward: mean(scores.map((s) => s.score_rejected)),
  };
}

/** The held-out set: two SFT draws on the evaluation prompts; pairs labelled from them for accuracy. */
function evalSet(sft: BenchmarkModel, tok: Tokenizer, prompts: string[], scorer: Scorer, c: SentimentConfig) {
  const ids = promptIds(tok, prompts);
  const base = {
    maxNewTokens: c.continuationTokens,
    temperature: c.temperature,
    padTokenId: tok.padTokenId ?? 0,
  };
  const sampling: SampleOptions = { ...base, seed: 7919 + c.dataSeed };
  const a = sampleContinuations(sft, ids, sampling);
  const b = sampleContinuations(sft, ids, { ...sampling, seed: sampling.seed + 1 });
  const score = (i: number, s: number[]) => scorer.score((prompts[i] as string) + tok.decode(s));
  const ra = a.map((s, i) => score(i, s));
  const rb = b.map((s, i) => score(i, s));
  const pairs: PreferencePair[] = [];
  ids.forEach((p, i) => {
    const [x, y] = [ra[i] as number, rb[i] as number];
    if (x === y) return;
    const [chosen, rejected] = x > y ? [a[i] ?? [], b[i] ?? []] : [b[i] ?? [], a[i] ?? []];
    pairs.push({ prompt: p.slice(tok.bosTokenId == null ? 0 : 1), chosen, rejected });
  });
  const set: EvalSet = { prompts, promptIds: ids, sftSamples: a, sftRewards: ra, sftSamplesB: b };
  return { set, pairs, sampling };
}

/**
 * Steps 1–2 of the benchmark: the SFT model on running text of the SFT documents (cached: the same in
 * every process of a split study), and the pairs: two samples per prompt from it, labelled by the
 * reward, ties dropped (cached as TRL JSONL, always read back through ganpo's readers).
 */
export async function prepareData(
  inputs: BenchmarkInputs,
  config: SentimentConfig,
  options: { cacheDir: string; log?: (line: string) => void },
): Promise<Prepared> {
  const log = options.log ?? (() => {});
  const tok = inputs.tokenizer ?? new ByteTokenizer();
  const split = splitCorpus(inputs.corpus);
  const docs = { sft: split.sft.length, pairs: split.pairs.length, eval: split.eval.length };
  const windows = sftWindows(split.sft, config.sft.windowChars, config.sft.windows, config.dataSeed);
  // The prompts before the SFT: a corpus too small for them fails at once, not after the training.
  const promptOptions = { ...config.prompts, seed: config.dataSeed };
  const pairPrompts = promptsOf(split.pairs, { ...promptOptions, count: config.prompts.pairs });
  const evalPrompts = promptsOf(split.eval, { ...promptOptions, count: config.prompts.eval });
  const bar = new ProgressBar('SFT'.padEnd(24), config.sft.steps);
  const sft = await cachedSft({
    factory: inputs.model,
    vocabSize: tok.vocabSize,
    seed: config.dataSeed,
    key: { corpus: inputs.corpus.name, docs, sft: config.sft },
    cacheDir: options.cacheDir,
    train: (m) =>
      pretrain(m, tok, windows, { ...config.sft, seed: config.dataSeed }, (step, loss) =>
        bar.update(step + 1, { loss }),
      ),
  });
  const parameters = sft.model.trainableVariables.reduce((n, v) => n + v.size, 0);
  const finalLoss = sft.record.losses.at(-1) ?? Number.NaN;
  log(
    `SFT ${inputs.model.name}: ${parameters} parameters, final loss ${finalLoss.toFixed(3)} ` +
      `(${sft.cached ? 'cached' : `${sft.record.seconds.toFixed(0)} s`})`,
  );

  const pairKey = createHash('sha256')
    .update(
      JSON.stringify([
        sft.record.key,
        config.prompts,
        config.temperature,
        config.continuationTokens,
        inputs.scorer.name,
      ]),
    )
    .digest('hex')
    .slice(0, 16);
  const train = await trainingPairs(sft.model, tok, pairPrompts, inputs, config, options.cacheDir, pairKey);
  const held = evalSet(sft.model, tok, evalPrompts, inputs.scorer, config);
  const reward = mean(held.set.sftRewards);
  log(
    `pairs: ${train.pairs.length} of ${pairPrompts.length} prompts (${train.ties} ties, ${train.stopped} stopped ` +
      `early), reward chosen ${train.chosenReward.toFixed(3)} / rejected ${train.rejectedReward.toFixed(3)}; held out: ` +
      `${evalPrompts.length} prompts, SFT reward ${reward.toFixed(3)}`,
  );
  return {
    tokenizer: tok,
    sft: sft.model,
    pairs: train.pairs,
    held,
    data: {
      corpus: inputs.corpus.name,
      documents: docs,
      sftWindows: windows.length,
      sftCharacters: windows.reduce((n, w) => n + w.length, 0),
      pairPrompts: pairPrompts.length,
      pairs: train.pairs.length,
      ties: train.ties,
      stopped: train.stopped,
      evalPrompts: evalPrompts.length,
      evalPairs: held.pairs.length,
      chosenReward: train.chosenReward,
      rejectedReward: train.rejectedReward,
      pairSeconds: train.seconds,
    },
    sftSummary: {
      model: inputs.model.name,
      parameters,
      finalLoss,
      seconds: sft.record.seconds,
      cached: sft.cached,
      reward,
      examples: held.set.sftSamples.slice(0, 4).map((s, i) => (evalPrompts[i] as string) + tok.decode(s)),
    },
  };
}
