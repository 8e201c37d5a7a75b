// No leak and no partial state on any failure path: constructors (a policy whose clone() throws, a
// tfjs-layers model with an unregistered custom layer), TR-DPO's reference checked at construction,
// a refused discriminator step, and refusals inside a user's own tf.variableGrads.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  type CausalLM,
  causalLMFromLayersModel,
  dpoLoss,
  type GanpoErrorCode,
  GanpoRegularizer,
  GanpoTrainer,
  type GanpoTrainerOptions,
  ganpoLoss,
  type LatentBatch,
  latentAnchorLoss,
  MLPDiscriminator,
  nllLoss,
  preferenceMetrics,
  setValidationLevel,
} from 'ganpo';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TASK_ALPHABET } from '../../examples/task';
import { TinyLM } from '../../examples/tiny-lm';
import { CharTokenizer } from '../../examples/tokenizers/char-tokenizer';
import { expectRefusal, hostileTally, type RefusalBounds } from '../support/hostile';
import { randomLatentBatch } from '../support/latents';
import { smallPolicy, smallTrainerArgs } from '../support/trainer-args';

const tally = hostileTally('failure paths');
const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
const DIM = 16;
const variables = () => Object.keys(tf.engine().registeredVariables).length;

afterEach(() => {
  setValidationLevel('full');
});

describe('constructors: a refused construction leaves no tensor and no variable', () => {
  it("new GanpoTrainer when the policy's clone() throws (after allocating), with every critic kind", async () => {
    const policy = smallPolicy(tok, 1);
    const failing: CausalLM = {
      forward: (ids, options) => policy.forward(ids, options),
      get trainableVariables() {
        return policy.trainableVariables;
      },
      clone(): CausalLM {
        // A half-made copy: variables allocated, then a failure.
        tf.variable(tf.ones([64, 64]));
        tf.keep(tf.zeros([128]));
        throw new Error('clone failed');
      },
    };
    for (const critic of [undefined, { kind: 'mlp', hiddenDims: [16] }] as const) {
      const before = variables();
      const n = tf.memory().numTensors;
      const args = smallTrainerArgs(tok, DIM, failing, 'copy');
      expect(() => new GanpoTrainer(critic ? args : { ...args, regularizer: { seed: 1 } })).toThrow(
        'clone failed',
      );
      tally.tried++;
      expect(tf.memory().numTensors).toBe(n);
      expect(variables()).toBe(before);
      tally.clean++;
    }
    policy.dispose();
  });

  it('LayersCausalLM.clone() with an unregistered custom layer: INVALID_STATE, nothing left', async () => {
    class Doubler extends tfl.layers.Layer {
      static className = 'GanpoTestUnregisteredDoubler';
      override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
        return tf.mul(Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs, 2);
      }
    }
    const model = tfl.sequential({
      layers: [
        tfl.layers.embedding({ inputDim: 10, outputDim: 8, inputLength: 4 }),
        tfl.layers.dense({ units: 8, name: 'hidden' }),
        new Doubler({}),
        tfl.layers.dense({ units: 10 }),
      ],
    });
    const lm = causalLMFromLayersModel(model, { hiddenLayer: 'hidden' });
    const before = variables();
    await expectRefusal(tally, () => lm.clone(), 'INVALID_STATE', { maxPeakBytes: null });
    expect(variables()).toBe(before);
    lm.dispose();
    model.dispose();
  });
});

describe('TR-DPO: the reference is checked against the policy before the first step', () => {
  const tinyOfWidth = (dim: number, seed: number) =>
    new TinyLM({ vocabSize: tok.vocabSize, maxSeqLen: 32, dim, numLayers: 1, numHeads: 2, seed });
  const trDpo = { referenceSync: { syncSteps: 1 } };
  // Shared by the cases: a refused construction changes no state, so each case may reuse them.
  const models = {} as { policy: TinyLM; wrongShape: CausalLM; sharing: CausalLM; other: TinyLM };
  beforeAll(() => {
    const policy = smallPolicy(tok, 1);
    models.policy = policy;
    models.wrongShape = Object.assign(Object.create(policy), { clone: () => tinyOfWidth(8, 2) });
    models.sharing = Object.assign(Object.create(policy), {
      clone: () => ({ forward: policy.forward.bind(policy), trainableVariables: policy.trainableVariables }),
    });
    models.other = tinyOfWidth(8, 3);
  });
  afterAll(() => {
    models.other.dispose();
    models.policy.dispose();
  });

  interface RefusedReference {
    name: string;
    args: () => GanpoTrainerOptions;
    code: GanpoErrorCode;
    bounds: RefusalBounds;
  }
  const refused: RefusedReference[] = [
    {
      name: "a 'copy' of another shape with TR-DPO",
      args: () => smallTrainerArgs(tok, DIM, models.wrongShape, 'copy', trDpo),
      code: 'SHAPE_MISMATCH',
      bounds: { maxPeakBytes: null },
    },
    {
      name: "a 'copy' sharing the policy's variables with TR-DPO",
      args: () => smallTrainerArgs(tok, DIM, models.sharing, 'copy', trDpo),
      code: 'INVALID_ARGUMENT',
      bounds: { maxPeakBytes: null },
    },
    // Without TR-DPO a copy sharing the policy's variables is refused too: it would move with the
    // policy and the loss would stay at log 2.
    {
      name: "a 'copy' sharing the policy's variables without TR-DPO",
      args: () => smallTrainerArgs(tok, DIM, models.sharing, 'copy'),
      code: 'INVALID_ARGUMENT',
      bounds: { argument: 'model.reference', maxPeakBytes: null },
    },
    // A given reference is checked the same way (before anything is built).
    {
      name: 'a given reference of another shape with TR-DPO',
      args: () => smallTrainerArgs(tok, DIM, models.policy, models.other, trDpo),
      code: 'SHAPE_MISMATCH',
      bounds: {},
    },
  ];
  for (const { name, args, code, bounds } of refused) {
    it(`${name} is refused at construction`, async () => {
      const before = variables();
      await expectRefusal(tally, () => new GanpoTrainer(args()), code, bounds);
      expect(variables()).toBe(before);
    });
  }

  it("a 'copy' of another structure without TR-DPO, and a true copy with TR-DPO, are accepted", () => {
    // A copy of another structure is the user's to make.
    new GanpoTrainer(smallTrainerArgs(tok, DIM, models.wrongShape, 'copy')).dispose();
    new GanpoTrainer(smallTrainerArgs(tok, DIM, models.policy, 'copy', trDpo)).dispose();
  });
});

describe('plain errors: required tensors missing are GanpoError, not a raw tfjs error', () => {
  it('nllLoss and preferenceMetrics without their tensors', async () => {
    const t = tf.tensor1d([1, 2]);
    for (const [call, argument] of [
      [() => nllLoss({} as never), 'sum'],
      [() => nllLoss({ sum: t } as never), 'count'],
      [() => preferenceMetrics({} as never), 'chosenRewards'],
      [() => preferenceMetrics({ chosenRewards: t } as never), 'rejectedRewards'],
    ] as const) {
      await expectRefusal(tally, call, 'INVALID_ARGUMENT', { argument });
    }
    t.dispose();
  });
});

describe('saves: a refused target leaves no tensor behind', () => {
  it('Discriminator.save to a URL without a registered handler', async () => {
    const d = new MLPDiscriminator({ latentDim: 4, hiddenDims: [3], seed: 1 });
    await expectRefusal(tally, () => d.save('nowhere://ckpt'), 'INVALID_ARGUMENT', {
      argument: 'handlerOrUrl',
    });
    d.dispose();
  });
});

describe('discriminatorStep: a refused step changes nothing', () => {
  it('NaN latents at validation level shapes: dropout counters, u/v, weights, means, steps unchanged', async () => {
    const reg = new GanpoRegularizer({
      latentDim: 4,
      seed: 1,
      critic: {
        kind: 'transformer',
        hiddenDim: 8,
        numHeads: 2,
        numLayers: 1,
        ffnDim: 8,
        maxSeqLen: 8,
        dropout: 0.1,
      },
    });
    const batch = randomLatentBatch({ batch: 2, time: 3, width: 4 });
    reg.discriminatorStep(batch);
    const snapshot = () => JSON.stringify(reg.stateDict());
    const nan = tf.fill([2, 3, 4], Number.NaN) as tf.Tensor3D;
    const inf = tf.fill([2, 3, 4], Number.POSITIVE_INFINITY) as tf.Tensor3D;
    for (const level of ['full', 'shapes'] as const) {
      setValidationLevel(level);
      for (const bad of [nan, inf]) {
        await expectRefusal(
          tally,
          () => reg.discriminatorStep({ ...batch, policyChosenLatents: bad }),
          'NON_FINITE',
          {
            snapshot,
          },
        );
      }
    }
    setValidationLevel('full');
    expect(() => reg.discriminatorStep(batch)).not.toThrow();
    tf.dispose([...Object.values(batch), nan, inf]);
    reg.dispose();
  });
});

// Inside a gradient tape, value checks do not run (a non-finite input gives a non-finite loss);
// what can still be refused there is shapes, state, and a critic of the user's that throws.
describe("refusals inside a user's own tf.variableGrads leave nothing of ganpo's on the tape", () => {
  /**
   * The tensors left after a refused `tf.variableGrads(f)` where `f` runs the user's own kernels and
   * then `call(h)`. tfjs itself strands what the user's kernels saved (it frees saved tensors only on
   * the backward pass), so a library call must leave exactly as much as a plain throw does.
   */
  function leftAfter(
    W: tf.Variable,
    base: tf.Tensor3D,
    call: (h: tf.Tensor3D) => unknown,
    name = '',
  ): number {
    const n = tf.memory().numTensors;
    expect(
      () =>
        tf.variableGrads(() => {
          const h = tf.reshape(tf.matMul(tf.reshape(base, [-1, 4]), W), base.shape) as tf.Tensor3D;
          const out = call(h) as { loss?: tf.Scalar } | tf.Scalar;
          return (out as { loss?: tf.Scalar }).loss ?? (out as tf.Scalar);
        }, [W]),
      name,
    ).toThrow();
    return tf.memory().numTensors - n;
  }

  it('ganpoLoss, adversarialLoss, latentAnchorLoss, dpoLoss (shapes, state) and a throwing custom critic', () => {
    const reg = new GanpoRegularizer({ latentDim: 4, seed: 1, critic: { kind: 'mlp', hiddenDims: [8] } });
    const batch = randomLatentBatch({ batch: 2, time: 3, width: 4 });
    reg.discriminatorStep(batch);
    const fresh = new GanpoRegularizer({ latentDim: 4, seed: 2, critic: { kind: 'mlp', hiddenDims: [8] } });
    // A regularizer whose chosen critic (a user's own, say) fails half-way through the loss.
    const critics = {
      chosen: new MLPDiscriminator({ latentDim: 4, hiddenDims: [8], seed: 3 }),
      rejected: new MLPDiscriminator({ latentDim: 4, hiddenDims: [8], seed: 4 }),
    };
    // targetDecay 0: the policy term reads these critics themselves (not Polyak-averaged copies).
    const throwing = new GanpoRegularizer({ discriminators: critics, targetDecay: 0 });
    throwing.discriminatorStep(batch);
    // The critic's own computations (protected), as a subclass of the user's would override them.
    for (const method of ['featuresForward', 'forward'] as const) {
      const original = (critics.chosen as unknown as Record<string, (...args: unknown[]) => unknown>)[method];
      if (!original) throw new Error(`no ${method}`);
      Object.assign(critics.chosen, {
        [method]: (...args: unknown[]) => {
          original.apply(critics.chosen, args);
          throw new Error('critic failed');
        },
      });
    }
    const W = tf.variable(tf.eye(4));
    const logps = tf.tensor1d([-1, -2]);
    const identity = (h: tf.Tensor3D): tf.Tensor => h;
    const perSequence = (h: tf.Tensor3D): tf.Tensor => tf.sum(h, [1, 2]);
    // The batch with the user's latents `h` as the policy's chosen ones, and `bad` in place.
    const latents = (h: tf.Tensor, bad: Partial<LatentBatch> = {}): LatentBatch => ({
      ...batch,
      policyChosenLatents: h as tf.Tensor3D,
      ...bad,
    });
    const cases: [string, (h: tf.Tensor3D) => tf.Tensor, (x: tf.Tensor) => unknown][] = [
      [
        'ganpoLoss bad mask',
        identity,
        (h) =>
          ganpoLoss({
            regularizer: reg,
            preference: tf.scalar(1),
            ...latents(h, { chosenMask: tf.ones([2, 5]) as tf.Tensor2D }),
          }),
      ],
      [
        'ganpoLoss before any step',
        identity,
        (h) => ganpoLoss({ regularizer: fresh, preference: tf.scalar(1), ...latents(h) }),
      ],
      [
        'adversarialLoss reference of another latentDim',
        identity,
        (h) =>
          reg.adversarialLoss(latents(h, { referenceChosenLatents: tf.zeros([2, 3, 5]) as tf.Tensor3D })),
      ],
      [
        'adversarialLoss mask of another length',
        identity,
        (h) => reg.adversarialLoss(latents(h, { chosenMask: tf.ones([2, 4]) as tf.Tensor2D })),
      ],
      [
        'latentAnchorLoss reference of another length',
        identity,
        (h) => latentAnchorLoss(latents(h, { referenceRejectedLatents: tf.zeros([2, 2, 4]) as tf.Tensor3D })),
      ],
      [
        'dpoLoss reference of another batch size',
        perSequence,
        (x) =>
          dpoLoss({
            policyChosenLogps: x as tf.Tensor1D,
            policyRejectedLogps: logps,
            referenceChosenLogps: tf.tensor1d([0, 0, 0]),
            referenceRejectedLogps: logps,
          }),
      ],
      ['a custom critic that throws mid-loss', identity, (h) => throwing.adversarialLoss(latents(h))],
    ];
    for (const [name, user, call] of cases) {
      tally.tried++;
      const plain = leftAfter(W, batch.policyChosenLatents, (h) => {
        user(h);
        throw new Error('user');
      });
      expect(
        leftAfter(W, batch.policyChosenLatents, (h) => call(user(h)), name),
        name,
      ).toBe(plain);
      tally.clean++;
    }
    tf.dispose([W, logps, ...Object.values(batch)]);
    for (const r of [reg, fresh, throwing]) r.dispose();
  });
});
