// Target critics of the policy term (`targetDecay`): Polyak averaging after every discriminator
// step, the policy term computed through them, state round trips, refusals and leaks.
import * as tf from '@tensorflow/tfjs-core';
import { GanpoRegularizer, type LatentBatch, MLPDiscriminator, setLogger } from 'ganpo';
import { describe, expect, it } from 'vitest';
import { expectClose, expectGanpoError, expectNoLeak } from './support/helpers';

const H = 3;

function batch(seed: number): LatentBatch {
  return tf.tidy(() => ({
    policyChosenLatents: tf.randomNormal([4, 5, H], 0.3, 1, 'float32', seed) as tf.Tensor3D,
    policyRejectedLatents: tf.randomNormal([4, 5, H], -0.2, 1, 'float32', seed + 1) as tf.Tensor3D,
    referenceChosenLatents: tf.randomNormal([4, 5, H], 0, 1, 'float32', seed + 2) as tf.Tensor3D,
    referenceRejectedLatents: tf.randomNormal([4, 5, H], 0, 1, 'float32', seed + 3) as tf.Tensor3D,
  }));
}

const mlp = (seed: number, spectralNorm = true) =>
  new MLPDiscriminator({ latentDim: H, hiddenDims: [6], spectralNorm, seed });
const values = (d: MLPDiscriminator): number[][] => d.trainableVariables.map((v) => Array.from(v.dataSync()));

/** ½ Σ_side Σ_i ‖f(h_θ,i) − f(h_ref,i)‖² / Σ_i ‖f(h_ref,i)‖² through the given critics. */
function relativeFm(ds: { chosen: MLPDiscriminator; rejected: MLPDiscriminator }, b: LatentBatch): number {
  return tf.tidy(() => {
    const side = (d: MLPDiscriminator, p: tf.Tensor3D, r: tf.Tensor3D) => {
      const fr = d.features(r);
      return tf.div(tf.sum(tf.square(tf.sub(d.features(p), fr))), tf.sum(tf.square(fr)));
    };
    return tf
      .mul(
        tf.add(
          side(ds.chosen, b.policyChosenLatents, b.referenceChosenLatents),
          side(ds.rejected, b.policyRejectedLatents, b.referenceRejectedLatents),
        ),
        0.5,
      )
      .dataSync()[0] as number;
  });
}

describe('target critics (targetDecay)', () => {
  it('after each step θ̄ ← d·θ̄ + (1 − d)·θ, and the policy term reads the targets', () => {
    const d = 0.9;
    const reg = new GanpoRegularizer({
      discriminators: { chosen: mlp(1, false), rejected: mlp(2, false) },
      targetDecay: d,
    });
    // Twins of the critics at initialisation, averaged by hand alongside.
    const hand = { chosen: mlp(1, false), rejected: mlp(2, false) };
    const expected = { chosen: values(hand.chosen), rejected: values(hand.rejected) };
    const b = batch(10);
    for (let step = 0; step < 3; step++) {
      reg.discriminatorStep(b);
      for (const side of ['chosen', 'rejected'] as const) {
        const live = values(reg.discriminators[side] as MLPDiscriminator);
        expected[side] = expected[side].map((w, i) =>
          w.map((x, j) => d * x + (1 - d) * (live[i]?.[j] as number)),
        );
      }
    }
    for (const side of ['chosen', 'rejected'] as const) {
      hand[side].trainableVariables.forEach((v, i) => {
        v.assign(tf.tensor(expected[side][i] as number[], v.shape));
      });
    }
    const loss = reg.adversarialLoss(b);
    expectClose(loss, relativeFm(hand, b), { rtol: 1e-5, label: 'policy term through the targets' });
    // The live critics give another value: the targets are not the live critics.
    const live = relativeFm(
      reg.discriminators as { chosen: MLPDiscriminator; rejected: MLPDiscriminator },
      b,
    );
    expect(Math.abs(live - (loss.dataSync()[0] as number))).toBeGreaterThan(1e-4);
    tf.dispose([loss, ...Object.values(b)]);
    hand.chosen.dispose();
    hand.rejected.dispose();
    reg.dispose();
  });

  it('the spectral-norm vectors of a target are the live critic’s; targetDecay 0 reads the live critics', () => {
    const reg = new GanpoRegularizer({ latentDim: H, critic: { kind: 'mlp', hiddenDims: [6] }, seed: 4 });
    const b = batch(20);
    reg.discriminatorStep(b);
    reg.discriminatorStep(b);
    const state = reg.stateDict();
    const targets = state.targets as NonNullable<typeof state.targets>;
    for (const key of Object.keys(targets.chosen).filter((k) => /weight_[uv]$/.test(k))) {
      expect(targets.chosen[key]).toEqual(state.discriminators.chosen[key]);
    }
    expect(targets.chosen['net.0.weight_orig']).not.toEqual(state.discriminators.chosen['net.0.weight_orig']);
    const plain = new GanpoRegularizer({
      latentDim: H,
      critic: { kind: 'mlp', hiddenDims: [6] },
      seed: 4,
      targetDecay: 0,
    });
    plain.discriminatorStep(b);
    const loss = plain.adversarialLoss(b);
    const want = relativeFm(
      plain.discriminators as { chosen: MLPDiscriminator; rejected: MLPDiscriminator },
      b,
    );
    expectClose(loss, want, { rtol: 1e-5 });
    expect(plain.stateDict().targets).toBeNull();
    tf.dispose([loss, ...Object.values(b)]);
    reg.dispose();
    plain.dispose();
  });

  it('save → restore → continue equals an uninterrupted run exactly, targets included', () => {
    const make = (seed: number) =>
      new GanpoRegularizer({ latentDim: H, critic: { kind: 'mlp', hiddenDims: [6] }, seed });
    const b = batch(30);
    const a = make(5);
    for (let i = 0; i < 4; i++) a.discriminatorStep(b);
    const want = JSON.stringify(a.stateDict());
    const lossA = a.adversarialLoss(b);
    const s = make(5);
    s.discriminatorStep(b);
    s.discriminatorStep(b);
    const saved = JSON.parse(JSON.stringify(s.stateDict()));
    s.dispose();
    const c = make(99);
    c.loadStateDict(saved);
    c.discriminatorStep(b);
    c.discriminatorStep(b);
    expect(JSON.stringify(c.stateDict())).toBe(want);
    const lossC = c.adversarialLoss(b);
    expect(lossC.dataSync()[0]).toBe(lossA.dataSync()[0]);
    // A state without targets does not load into a regularizer with them, nor the reverse.
    const noTargets = new GanpoRegularizer({
      latentDim: H,
      critic: { kind: 'mlp', hiddenDims: [6] },
      seed: 5,
      targetDecay: 0,
    });
    expectGanpoError(() => noTargets.loadStateDict(saved), 'STATE_DICT_MISMATCH', 'options.targetDecay');
    expectGanpoError(() => c.loadStateDict({ ...saved, targets: null }), 'STATE_DICT_MISMATCH', 'targets');
    tf.dispose([lossA, lossC, ...Object.values(b)]);
    for (const r of [a, c, noTargets]) r.dispose();
  });

  it('refuses a decay outside [0, 1), a decay with the one-sided generator, and uncopyable critics', () => {
    for (const targetDecay of [1, -0.1, Number.NaN]) {
      expect(() => new GanpoRegularizer({ latentDim: H, critic: { kind: 'mlp' }, targetDecay })).toThrow(
        /targetDecay/,
      );
    }
    expectGanpoError(
      () =>
        new GanpoRegularizer({
          latentDim: H,
          critic: { kind: 'mlp' },
          generator: 'one-sided',
          targetDecay: 0.5,
        }),
      'INVALID_OPTION',
      'targetDecay',
    );
    // The one-sided generator (and the official preset) default to no targets.
    const official = new GanpoRegularizer({ latentDim: H, critic: { kind: 'mlp' }, preset: 'official' });
    const oneSided = new GanpoRegularizer({ latentDim: H, critic: { kind: 'mlp' }, generator: 'one-sided' });
    expect([official.targetDecay, oneSided.targetDecay]).toEqual([0, 0]);
    official.dispose();
    oneSided.dispose();
    // A user-written Discriminator cannot be copied: an explicit decay is refused, the default is 0
    // with a notice.
    const wrap = (d: MLPDiscriminator) => ({
      latentDim: d.latentDim,
      apply: d.apply.bind(d),
      features: d.features.bind(d),
      trainableVariables: d.trainableVariables,
      stateDict: d.stateDict.bind(d),
      loadStateDict: d.loadStateDict.bind(d),
      dispose: d.dispose.bind(d),
    });
    const [c1, c2] = [mlp(1), mlp(2)];
    expectGanpoError(
      () =>
        new GanpoRegularizer({ discriminators: { chosen: wrap(c1), rejected: wrap(c2) }, targetDecay: 0.99 }),
      'INVALID_OPTION',
      'targetDecay',
    );
    const notices: string[] = [];
    const previous = setLogger((m) => notices.push(m));
    const custom = new GanpoRegularizer({ discriminators: { chosen: wrap(c1), rejected: wrap(c2) } });
    setLogger(previous);
    expect(custom.targetDecay).toBe(0);
    expect(notices.join('\n')).toContain('targetDecay');
    custom.dispose();
  });

  it('warns through the logger when live critics sit at their floor while the drift grows; not with targets', () => {
    const run = (targetDecay: number): string[] => {
      const lines: string[] = [];
      const previous = setLogger((m, level) => {
        if (level === 'warn') lines.push(m);
      });
      // lossFloor 10: every step counts as "at the floor"; the policy's latents move away steadily.
      const reg = new GanpoRegularizer({
        latentDim: H,
        critic: { kind: 'mlp', hiddenDims: [6] },
        seed: 1,
        lossFloor: 10,
        targetDecay,
      });
      const b = batch(50);
      for (let i = 0; i < 60; i++) {
        const moved = tf.tidy(() => tf.add(b.referenceChosenLatents, 0.05 * (i + 1)) as tf.Tensor3D);
        reg.discriminatorStep({ ...b, policyChosenLatents: moved });
        moved.dispose();
      }
      setLogger(previous);
      tf.dispose(Object.values(b));
      reg.dispose();
      return lines;
    };
    const live = run(0);
    expect(live.filter((m) => m.includes('loss floor'))).toHaveLength(1);
    expect(run(0.99).filter((m) => m.includes('loss floor'))).toHaveLength(0);
  });

  it('leaks nothing: construction, steps, the policy term and dispose (targets freed)', async () => {
    const b = batch(40);
    await expectNoLeak(() => {
      const reg = new GanpoRegularizer({ latentDim: H, critic: { kind: 'mlp', hiddenDims: [6] }, seed: 1 });
      reg.discriminatorStep(b);
      const g = tf.grads((x: tf.Tensor) =>
        reg.adversarialLoss({ ...b, policyChosenLatents: x as tf.Tensor3D }),
      )([b.policyChosenLatents]);
      tf.dispose(g);
      reg.dispose();
    });
    tf.dispose(Object.values(b));
  });
});
