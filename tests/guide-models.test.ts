import * as tf from '@tensorflow/tfjs-core';
import { GanpoTrainer, type PreferencePair } from 'ganpo';
import { describe, expect, it, vi } from 'vitest';
import { handWrittenLM } from '../examples/guide/hand-written-model';
import { trainLayersModel } from '../examples/guide/layers-model';

// docs/guide.md, "Your own model": the two snippets run as written, on every backend.
const PAIRS: PreferencePair[] = [
  { prompt: [2, 3], chosen: [4, 5], rejected: [6] },
  { prompt: [3], chosen: [7, 8, 4], rejected: [5, 5] },
  { prompt: [8, 2, 2], chosen: [3], rejected: [6, 7] },
  { prompt: [4], chosen: [2, 6], rejected: [8, 3, 3] },
];
const V = 9;

describe('guide: your own model', () => {
  it('a tfjs-layers LM with an Embedding trains with DPO + GANPO (reference: initial)', async () => {
    const info = vi.spyOn(console, 'info').mockImplementation(() => {});
    const before = tf.memory().numTensors;
    const collate = { padTokenId: 0, eosTokenId: 1, vocabSize: V };
    const { model, metrics } = await trainLayersModel({ pairs: PAIRS, collate }, V, 3);
    expect(metrics.length).toBe(3);
    expect(metrics.every((m) => !m.skipped && Number.isFinite(m.loss))).toBe(true);
    expect(info).toHaveBeenCalledTimes(1);
    expect(String(info.mock.calls[0]?.[0])).toContain('parameters');
    info.mockRestore();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a hand-written CausalLM trains in GanpoTrainer without a second instance', async () => {
    const before = tf.memory().numTensors;
    const lm = handWrittenLM(V, 8);
    const start = lm.trainableVariables.map((v) => Array.from(v.dataSync()));
    const trainer = new GanpoTrainer({
      model: { policy: lm, reference: 'initial', latentDim: 8 },
      data: { collate: { padTokenId: 0, eosTokenId: 1 }, batchSize: 4 },
      training: { learningRate: 1e-2, totalSteps: 2 },
      regularizer: { critic: { kind: 'mlp', hiddenDims: [16] } },
    });
    const metrics = await trainer.train(PAIRS);
    expect(metrics.every((m) => !m.skipped)).toBe(true);
    const end = lm.trainableVariables.map((v) => Array.from(v.dataSync()));
    expect(end).not.toEqual(start);
    trainer.dispose();
    lm.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
