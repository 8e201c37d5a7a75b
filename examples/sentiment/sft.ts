// The SFT model: a causal LM pretrained on the corpus's running text with next-token cross-entropy
// (ganpo's `causalLogProbs` + `nllLoss`, TRL's SFT loss), then frozen as the reference of every
// preference run. Deterministic from its seed, and cached: the trained weights are written as
// safetensors under a key of everything they depend on, so a study split over processes trains it once.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  BatchSampler,
  type CausalLM,
  causalLogProbs,
  collatePreferencePairs,
  disposePreferenceBatch,
  nllLoss,
  type PreferencePair,
  type Tokenizer,
} from 'ganpo';
import { readSafetensorsFile, writeSafetensorsFile } from 'ganpo/node';

/** A causal LM the benchmark can train, copy (the frozen reference, each run's policy) and free. */
export interface BenchmarkModel extends CausalLM {
  clone(): BenchmarkModel;
  dispose(): void;
}

/** Builds a fresh, seeded model for a vocabulary; the one argument that swaps the model. */
export interface ModelFactory {
  /** A short description that keys the SFT cache (change it when the architecture changes). */
  name: string;
  create(vocabSize: number, seed: number): BenchmarkModel;
}

/** Settings of {@link pretrain}. */
export interface SftSettings {
  steps: number;
  batchSize: number;
  /** Adam's learning rate (β 0.9 / 0.999, ε 1e-8 as PyTorch), constant. */
  learningRate: number;
  seed: number;
}

/**
 * Mean next-token cross-entropy of `model` over every text token of the windows (BOS predicts the
 * first byte; the windows are cut, so no EOS is appended): TRL's SFT loss through ganpo's
 * `causalLogProbs` (per-token log-probs of the completion mask) and `nllLoss`.
 */
function sftLoss(model: CausalLM, ids: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const { logits, hidden } = model.forward(ids, { training: true });
    hidden.dispose();
    const lp = causalLogProbs({ logits, inputIds: ids, lossMask: mask });
    return nllLoss({ sum: lp.sum, count: lp.count });
  });
}

/** Pretrains `model` in place on `texts` (batches drawn by a seeded `BatchSampler`); returns the losses. */
export function pretrain(
  model: CausalLM,
  tokenizer: Tokenizer,
  texts: readonly string[],
  s: SftSettings,
  onStep: (step: number, loss: number) => void = () => {},
): number[] {
  const sequences: PreferencePair[] = texts.map((t) => {
    const ids = tokenizer.encode(t);
    return { prompt: [], chosen: ids, rejected: ids };
  });
  const collate = {
    padTokenId: tokenizer.padTokenId ?? 0,
    bosTokenId: tokenizer.bosTokenId ?? null,
    eosTokenId: null,
    maxLength: null,
  };
  const sampler = new BatchSampler({ datasetSize: sequences.length, batchSize: s.batchSize, seed: s.seed });
  const optimizer = tf.train.adam(s.learningRate, 0.9, 0.999, 1e-8);
  const losses: number[] = [];
  try {
    for (let step = 0; step < s.steps; step++) {
      const { indices } = sampler.next();
      const batch = collatePreferencePairs(
        indices.map((i) => sequences[i] as PreferencePair),
        collate,
      );
      try {
        const { inputIds, completionMask } = batch.chosen;
        const loss = optimizer.minimize(
          () => sftLoss(model, inputIds, completionMask),
          true,
          model.trainableVariables,
        ) as tf.Scalar;
        losses.push(loss.dataSync()[0] as number);
        loss.dispose();
      } finally {
        disposePreferenceBatch(batch);
      }
      onStep(step, losses[step] as number);
    }
  } finally {
    optimizer.dispose();
  }
  return losses;
}

/** What the SFT cache keeps beside the weights. */
export interface SftRecord {
  key: string;
  losses: number[];
  seconds: number;
}

/**
 * The SFT model: loaded from `cacheDir` when an earlier run with the same `key` saved it (its trainable
 * variables are restored exactly, in order), else built by `factory`, pretrained and saved there.
 */
export async function cachedSft(o: {
  factory: ModelFactory;
  vocabSize: number;
  seed: number;
  /** Everything else the weights depend on (corpus, settings), as JSON. */
  key: unknown;
  cacheDir: string;
  train: (model: BenchmarkModel) => number[];
}): Promise<{ model: BenchmarkModel; record: SftRecord; cached: boolean }> {
  const { factory, vocabSize, seed, cacheDir, train } = o;
  const keyText = JSON.stringify([factory.name, vocabSize, seed, tf.getBackend(), o.key]);
  const dir = join(cacheDir, `sft-${createHash('sha256').update(keyText).digest('hex').slice(0, 16)}`);
  const model = factory.create(vocabSize, seed);
  const variables = model.trainableVariables;
  if (existsSync(join(dir, 'record.json'))) {
    const record = JSON.parse(readFileSync(join(dir, 'record.json'), 'utf8')) as SftRecord;
    const saved = await readSafetensorsFile(join(dir, 'weights.safetensors'));
    variables.forEach((v, i) => {
      const t = saved[`v${i}`];
      if (t === undefined || t.shape.join(',') !== v.shape.join(',')) {
        throw new Error(`${dir}: variable ${i} (${v.name}) missing or of another shape; delete the folder`);
      }
      v.assign(t);
    });
    tf.dispose(Object.values(saved));
    return { model, record, cached: true };
  }
  const start = performance.now();
  const losses = train(model);
  const record: SftRecord = { key: keyText, losses, seconds: (performance.now() - start) / 1000 };
  mkdirSync(dir, { recursive: true });
  await writeSafetensorsFile(
    join(dir, 'weights.safetensors'),
    Object.fromEntries(variables.map((v, i) => [`v${i}`, v])),
  );
  writeFileSync(join(dir, 'record.json'), `${JSON.stringify(record)}\n`);
  return { model, record, cached: false };
}
