import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ByteTokenizer, parsePreferenceJsonl, tokenizePreferenceData } from 'ganpo';
import { afterAll, describe, expect, it } from 'vitest';
import { completionKl, latentDrift as demoDrift } from '../../examples/demo/metrics';
import { parseSentimentArgs } from '../../examples/sentiment/args';
import { type SentimentConfig, type Sweeps, sentimentConfig } from '../../examples/sentiment/config';
import { brownCorpus, textCorpus, untagBrownLine } from '../../examples/sentiment/corpus';
import {
  labelPairs,
  promptIds,
  promptsOf,
  readPairs,
  sftWindows,
  splitCorpus,
  writePairsJsonl,
} from '../../examples/sentiment/data';
import { latentDrift, sequenceKl } from '../../examples/sentiment/evaluate';
import { type RunResult, runBenchmark } from '../../examples/sentiment/experiment';
import { mergeResults } from '../../examples/sentiment/merge';
import { frontierMethods } from '../../examples/sentiment/methods';
import { tinyLmFactory } from '../../examples/sentiment/models';
import {
  aboveDpoFrontier,
  dpoRewardAt,
  pairedWithBase,
  sentimentMarkdown,
  sentimentSvg,
} from '../../examples/sentiment/report';
import { rewardWinRate, vaderCompound } from '../../examples/sentiment/reward';
import { sampleContinuations } from '../../examples/sentiment/sample';
import { cachedSft, pretrain } from '../../examples/sentiment/sft';

const tok = new ByteTokenizer();
const small = tinyLmFactory({ dim: 8, numLayers: 1, numHeads: 2, maxSeqLen: 40 });
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'ganpo-sentiment-test-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('sentiment benchmark: corpus', () => {
  it('untags Brown form C lines and rebuilds the spacing of words, punctuation and quotes', () => {
    expect(untagBrownLine("He/pps said/vbd ,/, ``/`` No/uh !/. !/. ''/'' (/( twice/rb )/) ./.", 'x')).toBe(
      'He said, "No!!" (twice).',
    );
    expect(untagBrownLine("\tBarco's/np$ 1/2/cd didn't/dod* go/vb ;/. ;/.", 'x')).toBe(
      "Barco's 1/2 didn't go;;",
    );
    expect(() => untagBrownLine('He/pps said', 'ca01:3')).toThrow(
      /ca01:3: expected tagged tokens word\/tag, found "said"/,
    );
    expect(() => untagBrownLine('He/PPS', 'f')).toThrow(/"He\/PPS"/);
  });

  it('loads all 500 Brown samples from the installed package, untagged', () => {
    const corpus = brownCorpus();
    expect(corpus.documents).toHaveLength(500);
    expect(corpus.documents[0]?.id).toBe('ca01');
    expect(corpus.documents.at(-1)?.id).toBe('cr09');
    // The corpus' first sentence (Atlanta Constitution, 1961), as printed in the Brown Corpus manual.
    expect(corpus.documents[0]?.sentences[0]).toBe(
      "The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election " +
        'produced "no evidence" that any irregularities took place.',
    );
  });

  it('splits plain texts into sentences, and documents into disjoint SFT / pair / evaluation sets', () => {
    const c = textCorpus('mine', ['One. Two!  Three? "Four." Five', 'Six.']);
    expect(c.documents[0]?.sentences).toEqual(['One.', 'Two!', 'Three?', '"Four."', 'Five']);
    expect(() => textCorpus('none', [])).toThrow(/no texts/);
    const many = textCorpus(
      'x',
      Array.from({ length: 20 }, (_, i) => `Doc ${i}.`),
    );
    const split = splitCorpus(many);
    expect([split.eval.length, split.pairs.length, split.sft.length]).toEqual([2, 2, 16]);
    expect(split.eval.map((d) => d.id)).toEqual(['0', '10']);
    expect(split.pairs.map((d) => d.id)).toEqual(['5', '15']);
    expect(() => splitCorpus(textCorpus('y', ['a.', 'b.']))).toThrow(/too few/);
  });

  it('cuts prompts at word boundaries and SFT windows at sentence starts, deterministically', () => {
    const docs = textCorpus('x', [
      'The old man smiled at the happy child. It rained all day long and night. Short one.',
    ]).documents;
    const prompts = promptsOf(docs, { minChars: 8, maxChars: 16, restChars: 10, count: 2, seed: 1 });
    expect(new Set(prompts)).toEqual(new Set(['The old man', 'It rained']));
    expect(promptsOf(docs, { minChars: 8, maxChars: 16, restChars: 10, count: 2, seed: 1 })).toEqual(prompts);
    expect(() => promptsOf(docs, { minChars: 8, maxChars: 16, restChars: 10, count: 3, seed: 1 })).toThrow(
      /2 prompts, 3 wanted/,
    );
    const windows = sftWindows(docs, 20, 2, 3);
    expect(new Set(windows)).toEqual(new Set(['The old man smiled a', 'It rained all day lo']));
  });
});

describe('sentiment benchmark: reward', () => {
  it("reproduces VADER's published compound scores", () => {
    const vader = vaderCompound();
    // The examples of VADER's README (vaderSentiment, Python reference implementation).
    expect(vader.score('VADER is smart, handsome, and funny.')).toBeCloseTo(0.8316, 4);
    expect(vader.score('VADER is not smart, handsome, nor funny.')).toBeCloseTo(-0.7424, 4);
    expect(vader.score('VADER is smart, handsome, and funny!')).toBeCloseTo(0.8439, 4);
    expect(vader.score('The book was kind of good.')).toBeCloseTo(0.3832, 4);
    expect(vader.score('the of and')).toBe(0);
  });

  it('counts wins prompt by prompt, ties as one half', () => {
    expect(rewardWinRate([0.5, 0, -1, 0.2], [0.1, 0, 0.3, 0.2])).toBe((1 + 0.5 + 0 + 0.5) / 4);
    expect(() => rewardWinRate([1], [1, 2])).toThrow(/1 policy scores against 2/);
  });
});

describe('sentiment benchmark: sampling and measures', () => {
  it('samples each prompt from its own stream: the batch size does not change a sample', () => {
    const m = small.create(tok.vocabSize, 1);
    const prompts = promptIds(tok, ['Hi', 'The day was', 'A']);
    const o = { maxNewTokens: 6, temperature: 1, seed: 4, padTokenId: tok.padTokenId };
    const whole = sampleContinuations(m, prompts, o);
    expect(whole.map((s) => s.length)).toEqual([6, 6, 6]);
    expect(sampleContinuations(m, prompts, { ...o, batchSize: 1 })).toEqual(whole);
    expect(sampleContinuations(m, prompts, { ...o, seed: 5 })).not.toEqual(whole);
    // A near-zero temperature is greedy: every stream picks the argmax.
    const greedy = sampleContinuations(m, prompts, { ...o, temperature: 1e-6 });
    expect(sampleContinuations(m, prompts, { ...o, temperature: 1e-6, seed: 9 })).toEqual(greedy);
    expect(() => sampleContinuations(m, prompts, { ...o, temperature: 0 })).toThrow(/temperature/);
    m.dispose();
  });

  it('sequence KL and latent drift agree with the demo metrics (checked there by hand)', () => {
    const [a, b] = [small.create(tok.vocabSize, 1), small.create(tok.vocabSize, 2)];
    const prompts = promptIds(tok, ['Hi', 'The day was', 'A']);
    const conts = sampleContinuations(a, prompts, {
      maxNewTokens: 5,
      temperature: 1,
      seed: 1,
      padTokenId: 256,
    });
    const before = tf.memory().numTensors;
    const seqs = { prompts, continuations: conts, padTokenId: tok.padTokenId };
    const kl = sequenceKl(a, b, seqs, 2);
    const drift = latentDrift(a, b, seqs, 2);
    expect(tf.memory().numTensors).toBe(before);
    // Full-length continuations have no EOS: the demo's estimator scores exactly the same positions.
    const o = { padTokenId: tok.padTokenId, eosTokenId: tok.eosTokenId, maxNewTokens: 5 };
    expect(kl).toBeCloseTo(completionKl(a as never, b as never, prompts, conts, o), 5);
    expect(kl).toBeGreaterThan(0);
    expect(sequenceKl(a, a, seqs)).toBeCloseTo(0, 6);
    const pairs = prompts.map((p, i) => ({ prompt: p, chosen: conts[i] ?? [], rejected: conts[i] ?? [] }));
    const collate = { padTokenId: tok.padTokenId, eosTokenId: null, maxLength: null };
    expect(drift).toBeCloseTo(demoDrift(a as never, b as never, pairs, collate), 5);
    expect(latentDrift(a, a, seqs)).toBe(0);
    a.dispose();
    b.dispose();
  });
});

describe('sentiment benchmark: SFT and pairs', () => {
  it('pretrains deterministically and restores the cached weights exactly', async () => {
    const texts = ['the cat sat on the mat. ', 'a happy day in the sun. ', 'the dog ran far away. '];
    const s = { steps: 4, batchSize: 2, learningRate: 3e-3, seed: 1 };
    const cacheDir = tempDir();
    const o = { factory: small, vocabSize: tok.vocabSize, seed: 3, key: { s }, cacheDir };
    const first = await cachedSft({ ...o, train: (m) => pretrain(m, tok, texts, s) });
    expect(first.cached).toBe(false);
    expect(first.record.losses).toHaveLength(4);
    expect(first.record.losses[3]).toBeLessThan(first.record.losses[0] as number);
    const again = await cachedSft({
      ...o,
      train: () => {
        throw new Error('must not retrain');
      },
    });
    expect(again.cached).toBe(true);
    const w = (m: { trainableVariables: tf.Variable[] }) =>
      m.trainableVariables.map((v) => Array.from(v.dataSync()));
    expect(w(again.model)).toEqual(w(first.model));
    // Same seed, same data order: an uncached rerun lands on the same weights.
    const rerun = await cachedSft({ ...o, cacheDir: tempDir(), train: (m) => pretrain(m, tok, texts, s) });
    expect(w(rerun.model)).toEqual(w(first.model));
    for (const m of [first.model, again.model, rerun.model]) m.dispose();
  });

  it('labels two samples per prompt by reward, drops ties, and round-trips them through TRL JSONL', async () => {
    const m = small.create(tok.vocabSize, 1);
    // A toy scorer: the number of e's (ties are common, so some pairs drop).
    const scorer = { name: 'e-count', score: (t: string) => t.split('e').length - 1 };
    const prompts = ['The end', 'We', 'Here we are', 'Yes'];
    const { pairs, ties, stopped } = labelPairs({
      model: m,
      tokenizer: tok,
      prompts,
      scorer,
      temperature: 1,
      maxNewTokens: 24,
      seed: 1,
    });
    expect(pairs.length + ties + stopped).toBe(prompts.length);
    for (const p of pairs) {
      expect(scorer.score(p.prompt + p.chosen)).toBe(p.score_chosen);
      expect(p.score_chosen).toBeGreaterThan(p.score_rejected);
    }
    const dir = tempDir();
    writePairsJsonl(dir, 'pairs.jsonl', pairs);
    const read = await readPairs(dir, 'pairs.jsonl', tok);
    expect(read.eosTokenId).toBeNull();
    expect(read.prompts).toEqual(pairs.map((p) => p.prompt));
    const direct = tokenizePreferenceData(
      parsePreferenceJsonl(readFileSync(join(dir, 'pairs.jsonl'))).examples,
      tok,
    );
    expect(read.pairs).toEqual(direct.pairs);
    m.dispose();
  });
});

describe('sentiment benchmark: arguments', () => {
  it('parses the options and refuses bad ones', () => {
    const a = parseSentimentArgs(['--quick', '--seeds', '2,3', '--families', 'dpo,mlp', '--betas', '0.1,1']);
    expect(a.mode).toBe('quick');
    expect(a.seeds).toEqual([2, 3]);
    expect(a.families).toEqual(['dpo', 'mlp']);
    expect(a.betas).toEqual([0.1, 1]);
    expect(parseSentimentArgs([]).out).toBe(join('results', 'sentiment'));
    expect(() => parseSentimentArgs(['--families', 'ppo'])).toThrow(/subset/);
    expect(() => parseSentimentArgs(['--steps', '0'])).toThrow(
      /--steps expects integers in \[1, 1000000\], got 0/,
    );
    expect(() => parseSentimentArgs(['--seeds', '1,x'])).toThrow(/--seeds expects integers/);
    expect(parseSentimentArgs(['--prepare', '--cache', 'c', '--from-json', 'a.json,b.json'])).toMatchObject({
      prepare: true,
      cache: 'c',
      fromJson: ['a.json', 'b.json'],
    });
    expect(() => parseSentimentArgs(['--nope'])).toThrow(/Unknown option '--nope'/);
  });
});

describe('sentiment benchmark: end to end', () => {
  const words = ['good', 'bad', 'happy', 'sad', 'the', 'a', 'day', 'man', 'was', 'very'];
  const texts = Array.from({ length: 20 }, (_, d) =>
    Array.from(
      { length: 6 },
      (_, s) =>
        `The ${words[(d + s) % 10]} man was ${words[(d * 3 + s) % 10]} and ${words[(d + 2 * s) % 10]} all day.`,
    ).join(' '),
  );
  const config: SentimentConfig = {
    ...sentimentConfig('quick'),
    seeds: [1, 2],
    sft: { steps: 3, batchSize: 4, learningRate: 3e-3, windows: 40, windowChars: 24 },
    prompts: { minChars: 8, maxChars: 16, restChars: 8, pairs: 12, eval: 8 },
    continuationTokens: 8,
    training: { steps: 2, batchSize: 2, learningRate: 1e-3 },
  };
  const inputs = {
    corpus: textCorpus('toy', texts),
    // A scorer that rarely ties, so that a few prompts make pairs.
    scorer: { name: 'char-sum', score: (t: string) => [...t].reduce((n, c) => n + c.charCodeAt(0), 0) % 97 },
    model: tinyLmFactory({ dim: 8, numLayers: 1, numHeads: 2, maxSeqLen: 32 }),
  };

  it('trains every recipe from the same SFT start and measures it, leaving no tensor behind', async () => {
    const before = tf.memory().numTensors;
    const res = await runBenchmark(inputs, config, { cacheDir: tempDir() });
    expect(tf.memory().numTensors).toBe(before);
    const methods = frontierMethods(config.sweeps, 7).map((m) => m.name);
    expect(methods).toEqual([
      'DPO β=0.1',
      'DPO β=1',
      'anchor λ=1',
      'official λ=1',
      'mlp λ=1',
      'transformer λ=1',
      'mlp-frozen λ=1',
    ]);
    expect(res.runs.map((r) => `${r.seed} ${r.method}`)).toEqual(
      [1, 2].flatMap((s) => methods.map((m) => `${s} ${m}`)),
    );
    for (const r of res.runs) {
      for (const v of [r.reward, r.kl, r.drift, r.winRate]) expect(Number.isFinite(v)).toBe(true);
      expect(r.kl).toBeGreaterThan(0);
      expect(r.winRate).toBeGreaterThanOrEqual(0);
      expect(r.winRate).toBeLessThanOrEqual(1);
    }
    // GANPO runs report their critics; the anchor and DPO have none.
    expect(res.runs.find((r) => r.family === 'mlp')?.tail['ganpo/discriminator_loss_chosen']).toBeDefined();
    expect(
      res.runs.find((r) => r.family === 'anchor')?.tail['ganpo/discriminator_loss_chosen'],
    ).toBeUndefined();
    expect(res.data.pairs + res.data.ties + res.data.stopped).toBe(config.prompts.pairs);
    expect(res.sft.parameters).toBe(
      inputs.model.create(261, 0).trainableVariables.reduce((n, v) => n + v.size, 0),
    );

    // Split by seed and merged: the same report as one process.
    const saved = { command: 'test', ...res };
    const part = (seed: number) => ({ ...saved, runs: res.runs.filter((r) => r.seed === seed) });
    const merged = mergeResults([part(1), part(2)]);
    expect(merged.runs).toHaveLength(res.runs.length);
    // Split by family: the merged study's sweeps are the union of the parts'.
    const none = {
      beta: [],
      anchor: [],
      official: [],
      mlp: [],
      transformer: [],
      mlpFrozen: [],
      transformerFrozen: [],
      mlpTarget: [],
      transformerTarget: [],
    };
    const family = (f: RunResult['family'], sweeps: Partial<Sweeps>) => ({
      ...saved,
      config: { ...saved.config, sweeps: { ...none, ...sweeps } },
      runs: res.runs.filter((r) => r.family === f),
    });
    const byFamily = mergeResults([family('dpo', { beta: [1, 0.1] }), family('anchor', { anchor: [1] })]);
    expect(byFamily.config.sweeps).toEqual({ ...none, beta: [0.1, 1], anchor: [1] });
    expect(() => mergeResults([part(1), part(1)])).toThrow(/appears twice/);
    expect(() => mergeResults([part(1), { ...part(2), backend: 'other' }])).toThrow(/differ/);
    const md = sentimentMarkdown(merged, 'test');
    expect(md).toContain('| DPO β=1 |');
    expect(md).toContain('| transformer λ=1 |');
    expect(sentimentSvg(merged)).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
  });
});

describe('sentiment benchmark: DPO frontier', () => {
  const run = (seed: number, family: RunResult['family'], kl: number, reward: number) =>
    ({ seed, method: `${family} ${kl}`, family, kl, reward }) as RunResult;
  const runs = [
    run(1, 'dpo', 1, 0.1),
    run(1, 'dpo', 3, 0.3),
    run(1, 'dpo', 5, 0.2),
    run(1, 'anchor', 2, 0.25),
  ];

  it('reads DPO’s β frontier of a seed by linear interpolation, without extrapolating', () => {
    expect(dpoRewardAt(runs, 1, 2)).toBeCloseTo(0.2, 12);
    expect(dpoRewardAt(runs, 1, 4)).toBeCloseTo(0.25, 12);
    expect(dpoRewardAt(runs, 1, 0.5)).toBeNaN();
    expect(dpoRewardAt(runs, 2, 2)).toBeNaN();
    expect(aboveDpoFrontier(runs, 'anchor 2')[0]).toBeCloseTo(0.05, 12);
  });

  it('pairs a regularized run with DPO at its β (0.1) of the same seed, dropping unpaired seeds', () => {
    const at = (seed: number, family: RunResult['family'], value: number, reward: number) =>
      ({ seed, method: `${family} ${value}`, family, value, reward }) as RunResult;
    const paired = [
      at(1, 'dpo', 0.1, 0.5),
      at(1, 'dpo', 1, 0.9),
      at(2, 'dpo', 0.1, 0.25),
      at(1, 'mlp', 1, 0.75),
      at(2, 'mlp', 1, 0.5),
      at(3, 'mlp', 1, 0.5),
    ];
    expect(pairedWithBase(paired, 'mlp 1', (r, b) => r.reward - b.reward)).toEqual([0.25, 0.25]);
  });
});
