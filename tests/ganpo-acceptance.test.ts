// Acceptance of the default regularizer (docs/troubleshooting.md, "Measured defaults", "Long runs"): on a tiny
// LM trained with DPO or SimPO on pairs whose chosen and rejected completions are drawn from one
// distribution (uniform random tokens), GANPO with `new GanpoRegularizer({ latentDim, critic: { kind: kind } })`
// defaults must keep the policy's held-out latents closer to the reference than the preference
// loss alone (drift ratio < 0.8), for the MLP critic and a small transformer critic, and the
// transformer critics must leave chance (loss below log 2 by > 0.01). The MLP critic is not held to
// that: through target critics the default keeps the policy's latents so close to the reference's
// that an MLP critic cannot tell them apart (a critic at chance is then the expected outcome, not a
// failure). Deterministic: fixed seed, transformer dropout 0. Each case trains 40 steps at policy
// AdamW 1e-3; DPO also 80 steps at 5e-3, where the latents move 2.5 × their norm. The long run
// (docs/troubleshooting.md, "Long runs") trains 400 steps on random pairs at 5e-3 and requires the
// drift to stay below DPO alone's at every evaluation; the previous default must fail there, so the
// test can fail. The long timeout is for loaded machines.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { runDrift } from '../tools/study/drift-experiment';
import { runLoop } from '../tools/study/stability-loop';
import { TINY_TASK } from '../tools/study/tiny-policy';

const SMALL_TRANSFORMER = { hiddenDim: 32, numLayers: 1, numHeads: 2, ffnDim: 64, maxSeqLen: 16, dropout: 0 };
// A learning rate at which the preference loss alone moves the latents a lot (drift ≈ 1 in 40 steps).
const RUN = { seed: 0, learningRate: 1e-3, steps: 40 } as const;
const TIMEOUT = 600_000;
const CRITICS = {
  mlp: { critic: { kind: 'mlp' as const } },
  transformer: { critic: { kind: 'transformer' as const, ...SMALL_TRANSFORMER } },
};

for (const objective of ['dpo', 'simpo'] as const) {
  describe(`${objective}: GANPO defaults regularize (drift < 0.8 × ${objective} alone, critics leave chance)`, () => {
    let alone = Number.NaN;
    beforeAll(() => {
      alone = runDrift({ ...RUN, objective, ganpo: false }).drift;
    }, TIMEOUT);

    for (const [name, critic] of Object.entries(CRITICS)) {
      it(
        `${name} critic`,
        () => {
          expect(alone).toBeGreaterThan(0.1);
          const r = runDrift({ ...RUN, objective, ganpo: critic });
          const label = `${objective}/${name}: drift ${r.drift} vs ${alone}, critic loss ${r.criticLoss}`;
          expect(r.drift / alone, label).toBeLessThan(0.8);
          if (name === 'transformer') expect(Math.LN2 - r.criticLoss, label).toBeGreaterThan(0.01);
          expect(Number.isFinite(r.preferenceLoss), label).toBe(true);
        },
        TIMEOUT,
      );
    }
  });
}

describe('dpo at policy lr 5e-3, 80 steps: GANPO defaults regularize', () => {
  const FAST = { seed: 0, learningRate: 5e-3, steps: 80 } as const;
  let alone = Number.NaN;
  beforeAll(() => {
    alone = runDrift({ ...FAST, objective: 'dpo', ganpo: false }).drift;
  }, TIMEOUT);

  for (const [name, critic] of Object.entries(CRITICS)) {
    it(
      `${name} critic`,
      () => {
        expect(alone).toBeGreaterThan(1);
        const r = runDrift({ ...FAST, objective: 'dpo', ganpo: critic });
        const label = `dpo lr 5e-3/${name}: drift ${r.drift} vs ${alone}, critic loss ${r.criticLoss}`;
        expect(r.drift / alone, label).toBeLessThan(0.8);
        if (name === 'transformer') expect(Math.LN2 - r.criticLoss, label).toBeGreaterThan(0.01);
      },
      TIMEOUT,
    );
  }
});

// The long run is a study-sized computation: on the cpu backend it takes minutes, so it runs on wasm.
describe.skipIf(tf.getBackend() !== 'wasm')(
  'long run (400 steps, random pairs, policy lr 5e-3): drift below DPO alone at every evaluation',
  () => {
    const LONG = {
      seed: 3,
      steps: 400,
      lr: 5e-3,
      evalEvery: 40,
      task: { ...TINY_TASK, signal: 0 },
      instrument: false,
    };
    const TRANSFORMER = { critic: { kind: 'transformer' as const, hiddenDim: 32, numLayers: 1 } };
    let alone: number[] = [];
    beforeAll(() => {
      alone = runLoop({ ...LONG, penalty: 'none' }).evals.map((e) => e.drift);
    }, TIMEOUT);
    const ratios = (ganpo: Parameters<typeof runLoop>[0]['ganpo']) =>
      runLoop({ ...LONG, penalty: 'ganpo', ganpo })
        .evals.slice(1)
        .map((e, i) => e.drift / (alone[i + 1] as number));

    for (const [name, ganpo] of [
      ['mlp', { critic: { kind: 'mlp' as const } }],
      ['transformer', TRANSFORMER],
    ] as const) {
      it(
        `${name} critic, defaults`,
        () => {
          const r = ratios(ganpo);
          expect(r).toHaveLength(10);
          expect(Math.max(...r), `ratios ${r.map((x) => x.toFixed(2)).join(' ')}`).toBeLessThan(1);
        },
        TIMEOUT,
      );
    }

    it(
      'the previous default (paired feature matching on the live transformer critics) runs away here',
      () => {
        const r = ratios({ ...TRANSFORMER, generator: 'paired-feature-matching', targetDecay: 0 });
        expect(Math.max(...r), `ratios ${r.map((x) => x.toFixed(2)).join(' ')}`).toBeGreaterThan(1);
      },
      TIMEOUT,
    );
  },
);
