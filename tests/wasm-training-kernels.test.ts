import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { AdamW, causalLMFromLayersModel, causalLogProbs, dpoLoss, GanpoRegularizer, ganpoLoss } from 'ganpo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { registerWasmTrainingKernels, segmentSumInto } from '../src/ops/wasm-training-kernels';

import { expectClose } from './support/helpers';

const projectBackend = process.env.GANPO_BACKEND ?? 'cpu';

/** Runs `fn` on `backend` and reads every returned tensor back; restores the previous backend. */
async function on<T extends tf.Tensor | tf.Tensor[]>(backend: string, fn: () => T): Promise<number[][]> {
  const previous = tf.getBackend();
  await tf.setBackend(backend);
  try {
    const out = fn();
    const list = Array.isArray(out) ? out : [out];
    const values = list.map((t) => Array.from(t.dataSync() as ArrayLike<number>));
    tf.dispose(list);
    return values;
  } finally {
    await tf.setBackend(previous);
  }
}

/** A deterministic pseudo-random sequence in [-1, 1) (no tfjs, so it cannot depend on the backend). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

describe('segmentSumInto (the kernel body)', () => {
  it('adds each row into its segment and drops ids outside [0, numSegments)', () => {
    // x rows: [1,2], [3,4], [5,6], [7,8], [9,10]; ids 2, 0, 2, -1, 3 with 3 segments.
    const x = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const out = new Float32Array(6);
    segmentSumInto(out, x, [2, 0, 2, -1, 3], 5, 2, 3);
    expect(Array.from(out)).toEqual([3, 4, 0, 0, 6, 8]);
  });

  it('accumulates int32 values into int32 output', () => {
    const out = new Int32Array(2);
    segmentSumInto(out, new Int32Array([5, 7, 11]), [1, 1, 0], 3, 1, 2);
    expect(Array.from(out)).toEqual([11, 12]);
  });
});

describe('registerWasmTrainingKernels', () => {
  it('registers UnsortedSegmentSum for wasm once, and never replaces a registered kernel', () => {
    const first = registerWasmTrainingKernels();
    expect(first.every((k) => k === 'UnsortedSegmentSum')).toBe(true);
    const kernel = tf.getKernel('UnsortedSegmentSum', 'wasm');
    expect(kernel).toBeDefined();
    expect(registerWasmTrainingKernels()).toEqual([]);
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBe(kernel);
    // The cpu backend's own kernel is untouched.
    expect(tf.getKernel('UnsortedSegmentSum', 'cpu')?.backendName).toBe('cpu');
  });
});

describe.runIf(projectBackend === 'wasm')('UnsortedSegmentSum on wasm against the cpu backend', () => {
  beforeAll(() => {
    registerWasmTrainingKernels();
  });

  it.each([
    { label: 'ids [N], x [N,D]', idsShape: [9], inner: [4], numSegments: 6 },
    {
      label: 'ids [B,T], x [B,T,D] (gather gradient of a batch)',
      idsShape: [2, 5],
      inner: [3],
      numSegments: 7,
    },
    { label: 'ids [N], x [N] (scalars)', idsShape: [8], inner: [], numSegments: 5 },
    { label: 'ids [N], x [N,2,3]', idsShape: [4], inner: [2, 3], numSegments: 3 },
  ] as { label: string; idsShape: number[]; inner: number[]; numSegments: number }[])(
    '$label, with repeated, negative and out-of-range ids',
    async ({ idsShape, inner, numSegments }) => {
      const n = idsShape.reduce((a, b) => a * b, 1);
      const d = inner.reduce((a, b) => a * b, 1);
      const ids = Array.from({ length: n }, (_, i) => ((i * 5 + 1) % (numSegments + 2)) - 1);
      const xv = values(n * d, 3);
      // tfjs's cpu kernel mis-broadcasts ids of rank > 1, so the expected values come from the same
      // sum with ids flattened to [N] and x to [N, ...inner] (what the gather gradient passes).
      const run = (shape: number[]) => () => {
        const segmentIds: tf.Tensor = tf.tensor(ids, shape, 'int32');
        const x = tf.tensor(xv, [...shape, ...inner]);
        const out = tf.unsortedSegmentSum(x, segmentIds as tf.Tensor1D, numSegments);
        tf.dispose([x, segmentIds]);
        return out;
      };
      const [wasm] = await on('wasm', run(idsShape));
      const [cpu] = await on('cpu', run([n]));
      expectClose(wasm as number[], cpu as number[], { rtol: 1e-6, atol: 1e-6, label: 'wasm vs cpu' });
    },
  );

  it('int32 values', async () => {
    const run = () =>
      tf.unsortedSegmentSum(
        tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'),
        tf.tensor1d([1, 1, 0], 'int32'),
        2,
      );
    const [wasm] = await on('wasm', run);
    expect(wasm).toEqual([5, 6, 4, 6]);
  });

  it('gather gradient (the embedding gradient) equals the cpu backend on a 2000-token vocabulary', async () => {
    const vocab = 2000;
    const dim = 8;
    const tableValues = values(vocab * dim, 5);
    const ids = Array.from({ length: 64 }, (_, i) => (i * 977) % vocab);
    ids[3] = ids[10] as number; // a repeated token accumulates
    const upstream = values(64 * dim, 6);
    const run = () => {
      const table = tf.tensor2d(tableValues, [vocab, dim]);
      const g = tf.grad((t: tf.Tensor) =>
        tf.sum(tf.mul(tf.gather(t, tf.tensor1d(ids, 'int32')), tf.tensor2d(upstream, [64, dim]))),
      )(table);
      table.dispose();
      return g;
    };
    const [wasm] = await on('wasm', run);
    const [cpu] = await on('cpu', run);
    expectClose(wasm as number[], cpu as number[], { rtol: 1e-6, atol: 1e-6, label: 'dTable' });
  });

  it('leaves no tensor behind', async () => {
    await tf.setBackend('wasm');
    const x = tf.ones([6, 3]);
    const ids = tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32');
    const before = tf.memory().numTensors;
    tf.unsortedSegmentSum(x, ids, 3).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, ids]);
  });
});

// The user's model: Embedding → Dense(tanh) "hidden" → Dense(vocabulary), seeded, no dropout.
const V = 11;
const H = 6;
const B = 2;
const T = 5;
let uid = 0;
function makeModel(): tfl.LayersModel {
  const u = uid++;
  const seed = (s: number) => tfl.initializers.glorotUniform({ seed: s });
  return tfl.sequential({
    layers: [
      tfl.layers.embedding({
        inputDim: V,
        outputDim: 8,
        inputLength: T,
        embeddingsInitializer: tfl.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: 1 }),
        name: `emb_${u}`,
      }),
      tfl.layers.dense({ units: H, activation: 'tanh', kernelInitializer: seed(2), name: `hidden_${u}` }),
      tfl.layers.dense({ units: V, kernelInitializer: seed(3), name: `logits_${u}` }),
    ],
  });
}

const CHOSEN = [
  [1, 4, 2, 7, 3],
  [5, 5, 9, 1, 0],
];
const REJECTED = [
  [1, 4, 8, 8, 6],
  [5, 2, 10, 3, 0],
];
const MASK = [
  [1, 1, 1, 1, 1],
  [1, 1, 1, 1, 0],
];
const COMPLETION = [
  [0, 0, 1, 1, 1],
  [0, 0, 1, 1, 0],
];

describe.runIf(projectBackend === 'wasm')(
  'A tfjs-layers LM with an Embedding trains with DPO + GANPO on wasm',
  () => {
    beforeAll(() => {
      registerWasmTrainingKernels();
    });
    afterAll(async () => {
      await tf.setBackend('wasm');
    });

    /** DPO + λ·adversarial gradient of the policy for fixed reference outputs and a trained critic. */
    function setup() {
      const policyModel = makeModel();
      const policy = causalLMFromLayersModel(policyModel, {
        hiddenLayer: policyModel.layers[1] as tfl.layers.Layer,
      });
      const reference = policy.clone();
      // The official one-sided term: at the first step the policy equals its reference, where the default
      // paired term has zero gradient, and the row check below needs the latent term to reach every token.
      const regularizer = new GanpoRegularizer({
        latentDim: H,
        critic: { kind: 'mlp' },
        seed: 4,
        preset: 'official',
      });
      const chosen = tf.tensor2d(CHOSEN, [B, T], 'int32');
      const rejected = tf.tensor2d(REJECTED, [B, T], 'int32');
      const mask = tf.tensor2d(MASK, [B, T]);
      const completion = tf.tensor2d(COMPLETION, [B, T]);
      const data = { chosen, rejected, mask, completion };
      const sideLogps = (lm: typeof policy, ids: tf.Tensor2D, training: boolean) => {
        const { logits, hidden } = lm.forward(ids, { training });
        const lp = causalLogProbs({ logits, inputIds: ids, lossMask: completion });
        const sum = lp.sum;
        tf.dispose([logits, lp.perToken, lp.count, lp.mean]);
        return { logps: sum, hidden };
      };
      const ref = tf.tidy(() => {
        const c = sideLogps(reference, chosen, false);
        const r = sideLogps(reference, rejected, false);
        return { c: c.logps, r: r.logps, chosenHidden: c.hidden, rejectedHidden: r.hidden };
      });
      const loss = () => {
        const chosenPolicy = sideLogps(policy, chosen, true);
        const rejectedPolicy = sideLogps(policy, rejected, true);
        const preference = dpoLoss({
          beta: 0.1,
          policyChosenLogps: chosenPolicy.logps,
          policyRejectedLogps: rejectedPolicy.logps,
          referenceChosenLogps: ref.c,
          referenceRejectedLogps: ref.r,
        });
        const out = ganpoLoss({
          regularizer,
          preference,
          policyChosenLatents: chosenPolicy.hidden,
          policyRejectedLatents: rejectedPolicy.hidden,
          referenceChosenLatents: ref.chosenHidden,
          referenceRejectedLatents: ref.rejectedHidden,
          chosenMask: mask as tf.Tensor2D,
          rejectedMask: mask as tf.Tensor2D,
        });
        return out.loss;
      };
      const discriminatorStep = () => {
        const [chosenHidden, rejectedHidden] = tf.tidy(() => [
          policy.forward(chosen, { training: false }).hidden,
          policy.forward(rejected, { training: false }).hidden,
        ]);
        regularizer.discriminatorStep({
          policyChosenLatents: chosenHidden as tf.Tensor3D,
          policyRejectedLatents: rejectedHidden as tf.Tensor3D,
          referenceChosenLatents: ref.chosenHidden,
          referenceRejectedLatents: ref.rejectedHidden,
          chosenMask: mask as tf.Tensor2D,
          rejectedMask: mask as tf.Tensor2D,
        });
        tf.dispose([chosenHidden, rejectedHidden]);
      };
      const dispose = () => {
        tf.dispose([chosen, rejected, mask, completion, ref.c, ref.r, ref.chosenHidden, ref.rejectedHidden]);
        regularizer.dispose();
        reference.dispose();
        policy.dispose();
        policyModel.dispose();
      };
      return { policy, loss, discriminatorStep, dispose, data };
    }

    it('its gradients equal the cpu backend', async () => {
      await tf.setBackend('wasm');
      const s = setup();
      s.discriminatorStep();
      const vars = s.policy.trainableVariables;
      const grads = () =>
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(s.loss, vars);
          return [value, ...vars.map((v) => grads[v.name] as tf.Tensor)];
        });
      const wasm = await on('wasm', grads);
      const cpu = await on('cpu', grads);
      expect(wasm.length).toBe(vars.length + 1);
      for (let i = 0; i < wasm.length; i++) {
        expectClose(wasm[i] as number[], cpu[i] as number[], {
          rtol: 1e-4,
          atol: 1e-6,
          label: i === 0 ? 'loss' : vars[i - 1]?.name,
        });
      }
      // The embedding table gets gradient exactly on the rows of the batch's unmasked tokens.
      const used = new Set(
        [CHOSEN, REJECTED].flatMap((ids) =>
          ids.flatMap((row, b) => row.filter((_, t) => MASK[b]?.[t] === 1)),
        ),
      );
      const dEmb = wasm[1] as number[];
      for (let row = 0; row < V; row++) {
        const norm = dEmb.slice(row * 8, row * 8 + 8).reduce((a, b) => a + Math.abs(b), 0);
        expect(norm > 0, `row ${row}`).toBe(used.has(row));
      }
      s.dispose();
    });

    it('trains (loss falls) without tensor growth', async () => {
      await tf.setBackend('wasm');
      const s = setup();
      const optimizer = new AdamW({ learningRate: 0.05 });
      const vars = s.policy.trainableVariables;
      const losses: number[] = [];
      const counts: number[] = [];
      for (let step = 0; step < 8; step++) {
        s.discriminatorStep();
        const { value, grads } = tf.variableGrads(s.loss, vars);
        optimizer.applyGradients(grads);
        losses.push(value.dataSync()[0] as number);
        tf.dispose([value, ...Object.values(grads)]);
        counts.push(tf.memory().numTensors);
      }
      expect(new Set(counts.slice(1)).size, `tensor counts ${counts.join(',')}`).toBe(1);
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses[losses.length - 1] as number).toBeLessThan(losses[0] as number);
      optimizer.dispose();
      s.dispose();
    });
  },
);
