import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { AdamW, type AdamWState } from 'ganpo';
import { afterEach, describe, expect, it } from 'vitest';

import { expectClose, expectGanpoError, expectNoLeak, loadFixture } from './support/helpers';

interface Fixture {
  adamw: {
    config: { beta1: number; beta2: number; epsilon: number; weightDecay: number };
    shapes: Record<string, number[]>;
    init: Record<string, number[]>;
    steps: {
      lr: number;
      grads: Record<string, number[]>;
      params: Record<string, number[]>;
      stepCounts: Record<string, number>;
    }[];
  };
  minimize: {
    x: number[];
    y: number[];
    W0: number[];
    c0: number[];
    lr: number;
    weightDecay: number;
    losses: number[];
    steps: { W: number[]; c: number[] }[];
  };
}

const fx = loadFixture<Fixture>('optim.json');
// Both sides are float32 and AdamW mirrors torch 1.13's operation order: on cpu and wasm the
// trajectories measured bit-identical. The tolerance leaves room for backends that fuse
// multiply-adds (tfjs-node, GPUs): parameters are O(1), steps O(lr) = O(1e-2), 1e-6 is ~10 ulps.
const TOL = { rtol: 1e-5, atol: 1e-6 };

let counter = 0;
const uniq = (s: string): string => `adamw_test_${s}_${counter++}`;

function makeVars(): Record<string, tf.Variable> {
  const a = fx.adamw;
  return Object.fromEntries(
    Object.entries(a.shapes).map(([k, shape]) => [
      k,
      tf.variable(tf.tensor(a.init[k] as number[], shape), true, uniq(k)),
    ]),
  );
}

/** Runs fixture steps [from, to) on `vars` with `opt`; returns nothing, checks nothing. */
function runSteps(
  opt: AdamW,
  vars: Record<string, tf.Variable>,
  from: number,
  to: number,
  reverse = false,
): void {
  for (const step of fx.adamw.steps.slice(from, to)) {
    opt.learningRate = step.lr;
    let names = Object.keys(step.grads);
    if (reverse) names = names.reverse();
    const grads: tf.NamedTensorMap = {};
    for (const k of names) {
      const v = vars[k] as tf.Variable;
      grads[v.name] = tf.tensor(step.grads[k] as number[], v.shape);
    }
    opt.applyGradients(grads);
    tf.dispose(Object.values(grads));
  }
}

const created: (tf.Tensor | AdamW)[] = [];
afterEach(() => {
  for (const c of created.splice(0)) c.dispose();
});

describe('AdamW', () => {
  it('matches torch.optim.AdamW over steps with changing variable subsets and learning rates', () => {
    const vars = makeVars();
    const opt = new AdamW({ learningRate: 1, ...fx.adamw.config });
    created.push(opt, ...Object.values(vars));
    fx.adamw.steps.forEach((step, i) => {
      runSteps(opt, vars, i, i + 1);
      for (const [k, v] of Object.entries(vars)) {
        expectClose(v, step.params[k] as number[], { ...TOL, label: `step ${i} ${k}` });
        expect(opt.stepOf(v.name), `step count of ${k}`).toBe(step.stepCounts[k]);
      }
    });
    expect(opt.iterations).toBe(fx.adamw.steps.length);
  });

  it('state is keyed by name: the order of the gradient map does not matter', () => {
    const a = makeVars();
    const b = makeVars();
    const oa = new AdamW({ learningRate: 1, ...fx.adamw.config });
    const ob = new AdamW({ learningRate: 1, ...fx.adamw.config });
    created.push(oa, ob, ...Object.values(a), ...Object.values(b));
    runSteps(oa, a, 0, fx.adamw.steps.length);
    runSteps(ob, b, 0, fx.adamw.steps.length, true);
    for (const k of Object.keys(a)) {
      expect(Array.from((b[k] as tf.Variable).dataSync())).toEqual(
        Array.from((a[k] as tf.Variable).dataSync()),
      );
    }
  });

  it('minimize() with autograd gradients matches PyTorch on a tiny regression', () => {
    const m = fx.minimize;
    const x = tf.tensor2d(m.x, [8, 3]);
    const y = tf.tensor2d(m.y, [8, 2]);
    const W = tf.variable(tf.tensor2d(m.W0, [3, 2]), true, uniq('W'));
    const c = tf.variable(tf.tensor1d(m.c0), true, uniq('c'));
    const opt = new AdamW({ learningRate: m.lr, weightDecay: m.weightDecay });
    created.push(x, y, W, c, opt);
    m.steps.forEach((expected, i) => {
      const cost = opt.minimize(
        () => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(x, W), c), y))) as tf.Scalar,
        true,
        [W, c],
      );
      expectClose(cost as tf.Scalar, m.losses[i] as number, { rtol: 1e-5, atol: 1e-6, label: `loss ${i}` });
      cost?.dispose();
      expectClose(W, expected.W, { ...TOL, label: `W step ${i}` });
      expectClose(c, expected.c, { ...TOL, label: `c step ${i}` });
    });
  });

  it('save → restore → continue is bit-identical to an uninterrupted run (JSON and getWeights)', async () => {
    const n = fx.adamw.steps.length;
    const full = makeVars();
    const o1 = new AdamW({ learningRate: 1, ...fx.adamw.config });
    created.push(o1, ...Object.values(full));
    runSteps(o1, full, 0, n);

    // JSON path, into fresh variables with other names (as after a reload) via `rename`.
    const part = makeVars();
    const o2 = new AdamW({ learningRate: 1, ...fx.adamw.config });
    created.push(o2, ...Object.values(part));
    runSteps(o2, part, 0, 3);
    const saved = JSON.parse(JSON.stringify(o2.stateDict())) as AdamWState;
    const weights = Object.fromEntries(Object.entries(part).map(([k, v]) => [k, Array.from(v.dataSync())]));
    const resumed = Object.fromEntries(
      Object.entries(fx.adamw.shapes).map(([k, s]) => [
        k,
        tf.variable(tf.tensor(weights[k] as number[], s), true, uniq(`${k}_1`)),
      ]),
    );
    const byOld = Object.fromEntries(Object.keys(part).map((k) => [(part[k] as tf.Variable).name, k]));
    const o3 = new AdamW({ learningRate: 123, ...fx.adamw.config });
    created.push(o3, ...Object.values(resumed));
    o3.loadStateDict(saved, { rename: (old) => (resumed[byOld[old] as string] as tf.Variable).name });
    expect(o3.learningRate).toBe(o2.learningRate);
    expect(o3.iterations).toBe(3);
    runSteps(o3, resumed, 3, n);
    for (const k of Object.keys(full)) {
      expect(Array.from((resumed[k] as tf.Variable).dataSync()), k).toEqual(
        Array.from((full[k] as tf.Variable).dataSync()),
      );
    }

    // tfjs getWeights/setWeights path, on the same variables.
    const o4 = new AdamW({ learningRate: 1, ...fx.adamw.config });
    created.push(o4);
    await o4.setWeights(await o2.getWeights());
    expect(o4.iterations).toBe(3);
    runSteps(o2, part, 3, n);
    for (const k of Object.keys(full)) {
      expect(Array.from((part[k] as tf.Variable).dataSync()), k).toEqual(
        Array.from((full[k] as tf.Variable).dataSync()),
      );
    }
  });

  it('applies decay only where decayFilter allows, and not at all when weightDecay is 0', () => {
    const v = tf.variable(tf.tensor1d([1, -2]), true, uniq('nodecay'));
    const opt = new AdamW({ learningRate: 0.1, weightDecay: 0.5, decayFilter: () => false });
    const zero = new AdamW({ learningRate: 0.1, weightDecay: 0.5 });
    created.push(v, opt, zero);
    const g = tf.tensor1d([0, 0]);
    created.push(g);
    opt.applyGradients({ [v.name]: g });
    expectClose(v, [1, -2], { rtol: 0, atol: 0 });
    zero.applyGradients({ [v.name]: g });
    // Zero gradient: only the decoupled decay moves p, by exactly p·(1 − lr·wd).
    expectClose(v, [0.95, -1.9], { rtol: 1e-7, atol: 0 });
  });

  it('leaks nothing per step and dispose() frees its state only', async () => {
    const W = tf.variable(tf.randomNormal([4, 3]), true, uniq('leakW'));
    const opt = new AdamW({ learningRate: 1e-3 });
    created.push(W);
    const beforeFirstStep = tf.memory().numTensors;
    await expectNoLeak(() => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(W)) as tf.Scalar, [W]);
      opt.applyGradients(grads);
      tf.dispose([value, ...Object.values(grads)]);
    });
    const before = tf.memory().numTensors;
    opt.dispose();
    expect(tf.memory().numTensors).toBe(before - 2);
    // Everything the optimizer ever allocated is gone (slot initialisers included).
    expect(tf.memory().numTensors).toBe(beforeFirstStep);
    expect(W.isDisposed).toBe(false);
  });

  it('refuses bad input and a refused step changes nothing', () => {
    const W = tf.variable(tf.ones([2, 2]), true, uniq('badW'));
    const b = tf.variable(tf.ones([2]), true, uniq('badb'));
    const opt = new AdamW({ learningRate: 0.1 });
    const gW = tf.ones([2, 2]);
    const gBad = tf.ones([3]);
    created.push(W, b, opt, gW, gBad);
    expectGanpoError(
      () => opt.applyGradients({ [W.name]: gW, [b.name]: gBad }),
      'SHAPE_MISMATCH',
      `variableGradients.${b.name}`,
    );
    expectGanpoError(
      () => opt.applyGradients({ [W.name]: gW, nope_not_a_var: gW }),
      'INVALID_ARGUMENT',
      'variableGradients.nope_not_a_var',
    );
    expectClose(W, [1, 1, 1, 1], { rtol: 0, atol: 0 });
    expect(opt.stateNames).toEqual([]);
    expect(opt.iterations).toBe(0);
    expectGanpoError(() => new AdamW({ learningRate: -1 }), 'OUT_OF_RANGE', 'learningRate');
    expectGanpoError(() => new AdamW({ learningRate: 1, beta2: 1 }), 'OUT_OF_RANGE', 'beta2');
    expectGanpoError(() => new AdamW({ learningRate: Number.NaN }), 'NON_FINITE', 'learningRate');
    const misspelt = expectGanpoError(
      () => new AdamW({ learningRate: 1, wieghtDecay: 0 } as unknown as { learningRate: number }),
      'INVALID_OPTION',
      'wieghtDecay',
    );
    expect(misspelt.message).toContain("did you mean 'weightDecay'");
    expectGanpoError(
      () => {
        opt.learningRate = Number.POSITIVE_INFINITY;
      },
      'NON_FINITE',
      'learningRate',
    );
    const state = opt.stateDict();
    expectGanpoError(
      () => new AdamW({ learningRate: 0.1, beta1: 0.8 }).loadStateDict(state),
      'STATE_DICT_MISMATCH',
      'config.beta1',
    );
    expectGanpoError(
      () =>
        opt.loadStateDict({
          ...state,
          slots: { [W.name]: { step: 1, shape: [4], m: [0, 0, 0, 0], v: [0, 0, 0, 0] } },
        }),
      'STATE_DICT_MISMATCH',
      `slots.${W.name}`,
    );
    expectGanpoError(
      () => opt.loadStateDict({ ...state, slots: { x: { step: 1, shape: [2], m: [0], v: [0, 0] } } }),
      'INVALID_FORMAT',
      'slots.x',
    );
  });

  it('drives tfjs-layers model.fit as a compiled optimizer', async () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.dense({ units: 1, inputShape: [2], kernelInitializer: 'zeros', name: uniq('fitdense') }),
      ],
    });
    const opt = new AdamW({ learningRate: 0.1 });
    model.compile({ optimizer: opt, loss: 'meanSquaredError' });
    const x = tf.tensor2d([
      [1, 0],
      [0, 1],
    ]);
    const y = tf.tensor2d([[1], [-1]]);
    const h = await model.fit(x, y, { epochs: 3, batchSize: 2, verbose: 0 });
    const losses = h.history.loss as number[];
    expect(losses[2]).toBeLessThan(losses[0] as number);
    expect(opt.iterations).toBe(3);
    expect(opt.stateNames.length).toBe(2);
    tf.dispose([x, y]);
    model.dispose();
    opt.dispose();
  });

  it('is a tf.Optimizer with a serialisable config', () => {
    const opt = new AdamW({ learningRate: 0.5, weightDecay: 0.2 });
    created.push(opt);
    expect(opt).toBeInstanceOf(tf.Optimizer);
    expect(AdamW.className).toBe('AdamW');
    const clone = AdamW.fromConfig(AdamW, opt.getConfig()) as AdamW;
    created.push(clone);
    expect(clone.getConfig()).toEqual({
      learningRate: 0.5,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      weightDecay: 0.2,
    });
  });
});
