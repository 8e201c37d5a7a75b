import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { collatePreferencePairs, disposePreferenceBatch } from 'ganpo';
import { afterAll, describe, expect, it } from 'vitest';
import { encodePairs, makeTaskSplits, TASK_ALPHABET } from '../../examples/task/index';
import { sftLoss, sftTrain, TinyLM } from '../../examples/tiny-lm/index';
import { CharTokenizer } from '../../examples/tokenizers/char-tokenizer';
import { GATHER_ROWS } from '../../src/ops/wasm/gather-rows-kernel';

import { expectClose, expectNoLeak, loadFixture } from '../support/helpers';

// Small enough to train a few steps in well under a second on the cpu backend.
const config = { vocabSize: 25, maxSeqLen: 24, dim: 16, numLayers: 1, numHeads: 2, seed: 3 };
const ids = (rows: number[][]): tf.Tensor2D => tf.tensor2d(rows, undefined, 'int32');

function toRows(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

/** Flat logits of `lm` on `rows`, with every tensor disposed. */
function logitsOf(lm: TinyLM, rows: number[][]): number[] {
  return tf.tidy(() => toRows(lm.forward(ids(rows)).logits));
}

interface TinyLMFixture {
  config: {
    vocabSize: number;
    dim: number;
    numHeads: number;
    ffnDim: number;
    numLayers: number;
    maxSeqLen: number;
  };
  inputIds: number[][];
  names: string[];
  shapes: number[][];
  weights: number[][];
  u: number[];
  v: number[];
  logits: number[];
  hidden: number[];
  grads: number[][];
}

describe('TinyLM matches the same network built from PyTorch modules', () => {
  it('logits, hidden state and the gradient of every weight', () => {
    const fx = loadFixture<TinyLMFixture>('tiny_lm.json');
    const lm = new TinyLM(fx.config);
    expect(lm.model.weights.map((w) => w.shape)).toEqual(fx.shapes);
    const init = fx.weights.map((w, i) => tf.tensor(w, fx.shapes[i]));
    lm.setWeights(init);
    tf.dispose(init);
    const x = ids(fx.inputIds);
    const [B, T] = x.shape;
    const u = tf.tensor3d(fx.u, [B, T, fx.config.vocabSize]);
    const v = tf.tensor3d(fx.v, [B, T, fx.config.dim]);
    const out = lm.forward(x);
    expectClose(out.logits, fx.logits, { rtol: 1e-4, atol: 1e-5, label: 'logits' });
    expectClose(out.hidden, fx.hidden, { rtol: 1e-4, atol: 1e-5, label: 'hidden' });
    const vars = lm.trainableVariables;
    const { value, grads } = tf.variableGrads(() => {
      const { logits, hidden } = lm.forward(x, { training: true });
      return tf.add(tf.sum(tf.mul(logits, u)), tf.sum(tf.mul(hidden, v))) as tf.Scalar;
    }, vars);
    vars.forEach((variable, i) => {
      expectClose(grads[variable.name] as tf.Tensor, fx.grads[i] as number[], {
        rtol: 1e-3,
        atol: 1e-4,
        label: `grad ${fx.names[i]}`,
      });
    });
    tf.dispose([x, u, v, out.logits, out.hidden, value, ...Object.values(grads)]);
    lm.dispose();
  });
});

describe('TinyLM', () => {
  const lm = new TinyLM(config);
  afterAll(() => lm.dispose());

  it('returns logits [B,T,V] and the last hidden state [B,T,H] from one forward pass', () => {
    const x = ids([
      [1, 5, 6, 7, 2],
      [1, 8, 9, 0, 0],
    ]);
    const { logits, hidden } = lm.forward(x);
    expect(logits.shape).toEqual([2, 5, 25]);
    expect(hidden.shape).toEqual([2, 5, 16]);
    // hidden is exactly what the vocabulary head sees: logits = hidden·K + b, checked with plain tf ops.
    const head = lm.model.layers[lm.model.layers.length - 1] as (typeof lm.model.layers)[number];
    const [k, b] = head.getWeights() as [tf.Tensor2D, tf.Tensor1D];
    const expected = tf.add(tf.reshape(tf.matMul(tf.reshape(hidden, [10, 16]), k), [2, 5, 25]), b);
    expectClose(logits, toRows(expected), { rtol: 1e-4, atol: 1e-5 });
    expect(lm.model.getLayer(lm.hiddenLayerName).outputShape).toEqual([null, null, 16]);
    tf.dispose([x, logits, hidden, expected]);
  });

  it('looks its tokens up with TokenEmbedding: the SIMD row copy on wasm, no GatherV2 there', async () => {
    const x = ids([[1, 5, 6, 7]]);
    const info = await tf.profile(() => {
      const { logits, hidden } = lm.forward(x);
      tf.dispose([logits, hidden]);
    });
    const names = info.kernels.map((k) => k.name);
    const onWasm = tf.getBackend() === 'wasm';
    expect(names.includes(GATHER_ROWS)).toBe(onWasm);
    if (onWasm) expect(names).not.toContain('GatherV2');
    x.dispose();
  });

  it('is causal, and right padding does not change real positions', () => {
    const la = logitsOf(lm, [[1, 5, 6, 7, 8, 9]]);
    const lb = logitsOf(lm, [[1, 5, 6, 7, 20, 21]]);
    const V = 25;
    expectClose(lb.slice(0, 4 * V), la.slice(0, 4 * V), { rtol: 1e-5, atol: 1e-6 });
    expect(Math.abs((lb[4 * V] as number) - (la[4 * V] as number))).toBeGreaterThan(1e-6);
    const ls = logitsOf(lm, [[1, 5, 6]]);
    const lp = logitsOf(lm, [[1, 5, 6, 0, 0, 0]]);
    expectClose(lp.slice(0, 3 * V), ls, { rtol: 1e-5, atol: 1e-6 });
  });

  it('gradients reach every weight through logits and hidden', () => {
    const x = ids([
      [1, 5, 6, 7, 2],
      [1, 8, 9, 10, 11],
    ]);
    const vars = lm.trainableVariables;
    expect(vars.length).toBe(lm.model.trainableWeights.length);
    const { value, grads } = tf.variableGrads(() => {
      const { logits, hidden } = lm.forward(x, { training: true });
      return tf.add(tf.mean(tf.square(logits)), tf.mean(tf.square(hidden))) as tf.Scalar;
    }, vars);
    for (const v of vars) {
      const g = grads[v.name] as tf.Tensor;
      expect(g, v.name).toBeDefined();
      const norm = tf.norm(g);
      expect(norm.dataSync()[0] as number, `gradient of ${v.name}`).toBeGreaterThan(0);
      norm.dispose();
    }
    tf.dispose([x, value, ...Object.values(grads)]);
  });

  it('saves, loads, serialises and clones with identical outputs', async () => {
    const rows = [[1, 5, 6, 7, 2]];
    const want = logitsOf(lm, rows);
    const dir = mkdtempSync(join(tmpdir(), 'tiny-lm-'));
    try {
      await lm.save(dir);
      const loaded = TinyLM.load(dir);
      expect(loaded.config).toEqual(lm.config);
      expectClose(logitsOf(loaded, rows), want, { rtol: 0, atol: 0 });
      loaded.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const again = TinyLM.deserialize(await lm.serialize());
    expectClose(logitsOf(again, rows), want, { rtol: 0, atol: 0 });
    again.dispose();
    const copy = lm.clone();
    expectClose(logitsOf(copy, rows), want, { rtol: 0, atol: 0 });
    const v0 = copy.trainableVariables[0] as tf.Variable;
    tf.tidy(() => v0.assign(tf.zerosLike(v0)));
    expectClose(logitsOf(lm, rows), want, { rtol: 0, atol: 0 });
    copy.dispose();
    expect(toRows(lm.trainableVariables[0] as tf.Tensor).some((v) => v !== 0)).toBe(true);
  });

  it('samples reproducibly; greedy decoding follows the argmax; EOS stops', () => {
    const prompts = [
      [1, 5, 6],
      [1, 7],
    ];
    const g1 = lm.generate(prompts, { maxNewTokens: 5, temperature: 1, seed: 4 });
    const g2 = lm.generate(prompts, { maxNewTokens: 5, temperature: 1, seed: 4 });
    expect(g1).toEqual(g2);
    expect(g1.map((g) => g.length)).toEqual([5, 5]);
    const greedy = lm.generate([[1, 5, 6]], { maxNewTokens: 1, temperature: 0 });
    const last = logitsOf(lm, [[1, 5, 6]]).slice(2 * 25, 3 * 25);
    expect(greedy[0]?.[0]).toBe(last.indexOf(Math.max(...last)));
    const first = greedy[0]?.[0] as number;
    expect(lm.generate([[1, 5, 6]], { maxNewTokens: 4, temperature: 0, eosTokenId: first })).toEqual([[]]);
    expect(() => lm.generate(prompts, { temperature: -1 })).toThrow(/temperature/);
  });

  it('leaks nothing in forward, training step and generation', async () => {
    const x = ids([[1, 5, 6, 7, 2]]);
    await expectNoLeak(() => {
      const { logits, hidden } = lm.forward(x);
      tf.dispose([logits, hidden]);
      const { value, grads } = tf.variableGrads(
        () => tf.mean(lm.forward(x, { training: true }).logits) as tf.Scalar,
        lm.trainableVariables,
      );
      tf.dispose([value, ...Object.values(grads)]);
      lm.generate([[1, 5]], { maxNewTokens: 3 });
    });
    x.dispose();
  });
});

describe('SFT on the digit task', () => {
  const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
  const { train } = makeTaskSplits({ seed: 1, trainSize: 64, testSize: 1, shiftedSize: 1 });
  const pairs = encodePairs(tok, train);
  const collate = { padTokenId: tok.padId, eosTokenId: tok.eosId, maxLength: 24 };

  it('a few steps lower the teacher-forced loss on prompt+chosen', () => {
    const lm = new TinyLM({ ...config, vocabSize: tok.vocabSize });
    const probe = collatePreferencePairs(pairs.slice(0, 16), collate);
    const before = sftLoss(lm, probe.chosen, { training: false });
    const { losses } = sftTrain({ lm, pairs, collate, steps: 12, batchSize: 8, learningRate: 3e-3, seed: 2 });
    const after = sftLoss(lm, probe.chosen, { training: false });
    expect(losses.length).toBe(12);
    expect(losses.every(Number.isFinite)).toBe(true);
    const [b0, a0] = [before.dataSync()[0] as number, after.dataSync()[0] as number];
    // Untrained: about ln(V) = ln(25) ≈ 3.2 nats per response token.
    expect(b0).toBeGreaterThan(2.8);
    expect(a0).toBeLessThan(b0 - 0.3);
    tf.dispose([before, after]);
    disposePreferenceBatch(probe);
    lm.dispose();
  });

  it('the SFT loss counts only response tokens by default', () => {
    const lm = new TinyLM({ ...config, vocabSize: tok.vocabSize });
    const batch = collatePreferencePairs(pairs.slice(0, 2), collate);
    const { logits } = lm.forward(batch.chosen.inputIds);
    // Independent per-token computation in JS from the logits.
    const [B, T, V] = logits.shape;
    const L = logits.arraySync() as number[][][];
    const idsArr = batch.chosen.inputIds.arraySync() as number[][];
    const maskArr = batch.chosen.completionMask.arraySync() as number[][];
    let total = 0;
    let count = 0;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t + 1 < T; t++) {
        if (maskArr[b]?.[t + 1] !== 1) continue;
        const row = L[b]?.[t] as number[];
        const m = Math.max(...row);
        const lse = m + Math.log(row.reduce((s, z) => s + Math.exp(z - m), 0));
        total += lse - (row[idsArr[b]?.[t + 1] as number] as number);
        count += 1;
      }
    }
    const loss = sftLoss(lm, batch.chosen, { training: false });
    expectClose(loss, total / count, { rtol: 1e-5 });
    tf.dispose([loss, logits]);
    disposePreferenceBatch(batch);
    lm.dispose();
    expect(V).toBe(tok.vocabSize);
  });

  it('an SFT step leaks nothing', async () => {
    const lm = new TinyLM({ ...config, vocabSize: tok.vocabSize });
    await expectNoLeak(() => {
      sftTrain({ lm, pairs, collate, steps: 1, batchSize: 4 });
    });
    lm.dispose();
  });
});
