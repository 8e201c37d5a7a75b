// Restores are exact or refused: values a float32 variable cannot hold and missing parts (dropout
// streams, optimizer slots, the sampler) are refused naming them, state unchanged, nothing leaked;
// `{ strict: false }` loads what is there and lists what is not. Smaller state checks around them:
// sampler options and positions, syncReference's lists, loadStateDict's dtypes.
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW,
  BatchSampler,
  type GanpoErrorCode,
  GanpoTrainer,
  type GanpoTrainerOptions,
  MLPDiscriminator,
  type PreferencePair,
  syncReference,
  type TrainerState,
} from 'ganpo';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodePairs, makeTaskSplits, TASK_ALPHABET } from '../../examples/task';
import type { TinyLM } from '../../examples/tiny-lm';
import { CharTokenizer } from '../../examples/tokenizers/char-tokenizer';
import { expectRefusal, hostileTally } from '../support/hostile';
import { SMALL_DROPOUT_CRITIC, smallPolicy, smallTrainerArgs } from '../support/trainer-args';

const tally = hostileTally('exact restores');
const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
const pairs: PreferencePair[] = encodePairs(
  tok,
  makeTaskSplits({ seed: 3, trainSize: 16, testSize: 1, shiftedSize: 1 }).train,
);
const DIM = 16;
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

/** A trainer with a transformer critic with dropout (so that its streams matter). */
function trainerArgs(policy: TinyLM, reference: TinyLM): GanpoTrainerOptions {
  return smallTrainerArgs(tok, DIM, policy, reference, {
    regularizer: { critic: SMALL_DROPOUT_CRITIC, seed: 7 },
  });
}

describe('GanpoTrainer.loadStateDict: exact or refused', () => {
  let good: TrainerState;
  let trainer: GanpoTrainer;
  beforeAll(async () => {
    const a = smallPolicy(tok, 1);
    const ref = a.clone();
    const source = new GanpoTrainer(trainerArgs(a, ref));
    await source.train(pairs, { steps: 2 });
    good = clone(source.stateDict());
    source.dispose();
    trainer = new GanpoTrainer(trainerArgs(smallPolicy(tok, 2), ref));
    await trainer.train(pairs, { steps: 1 });
  });
  const snapshot = () => JSON.stringify(trainer.stateDict());
  const refuse = async (edit: (s: TrainerState) => void, code: GanpoErrorCode, argument: string) => {
    const bad = clone(good);
    edit(bad);
    await expectRefusal(tally, () => trainer.loadStateDict(bad), code, { argument, snapshot });
  };
  const firstSlot = (slots: TrainerState['optimizer']['slots']) =>
    Object.values(slots).find((s) => s !== null) as NonNullable<TrainerState['optimizer']['slots'][string]>;

  it('values beyond float32 (1e39, -3.5e38, 1e308) are refused wherever a float32 tensor would hold them', async () => {
    for (const big of [1e39, -3.5e38, 1e308]) {
      await refuse(
        (s) => {
          (s.policy[0] as { data: number[] }).data[1] = big;
        },
        'NON_FINITE',
        'state.policy[0].data',
      );
      await refuse(
        (s) => {
          firstSlot(s.optimizer.slots).m[0] = big;
        },
        'NON_FINITE',
        'slots.policy/0.m',
      );
      await refuse(
        (s) => {
          firstSlot(s.optimizer.slots).v[0] = Math.abs(big);
        },
        'NON_FINITE',
        'slots.policy/0.v',
      );
      await refuse(
        (s) => {
          const t = s.regularizer?.discriminators.chosen['head.2.bias'];
          if (t) t.data[0] = big;
        },
        'NON_FINITE',
        'discriminators.chosen.head.2.bias.data',
      );
      await refuse(
        (s) => {
          const slots = s.regularizer?.optimizer?.slots ?? {};
          firstSlot(slots).m[0] = big;
        },
        'NON_FINITE',
        'slots.chosen/0.m',
      );
    }
    // The largest float32 itself is a value like any other.
    const edge = clone(good);
    (edge.policy[0] as { data: number[] }).data[1] = 3.4028234663852886e38;
    const other = new GanpoTrainer(trainerArgs(smallPolicy(tok, 3), smallPolicy(tok, 4)));
    expect(other.loadStateDict(edge).missingKeys).toEqual([]);
    other.dispose();
  });

  it('missing parts are refused naming them: dropout streams, optimizer slots, the sampler', async () => {
    await refuse(
      (s) => Reflect.deleteProperty(s.regularizer ?? {}, 'dropout'),
      'STATE_DICT_MISMATCH',
      'dropout',
    );
    await refuse(
      (s) => Object.assign(s.regularizer ?? {}, { dropout: null }),
      'STATE_DICT_MISMATCH',
      'dropout',
    );
    await refuse(
      (s) => Reflect.deleteProperty(s.optimizer.slots, 'policy/3'),
      'STATE_DICT_MISMATCH',
      'optimizer.slots.policy/3',
    );
    await refuse(
      (s) => Reflect.deleteProperty(s.regularizer?.optimizer?.slots ?? {}, 'rejected/1'),
      'STATE_DICT_MISMATCH',
      'optimizer.slots.rejected/1',
    );
    await refuse((s) => Reflect.deleteProperty(s, 'sampler'), 'INVALID_FORMAT', 'state.sampler');
    await expectRefusal(
      tally,
      () => trainer.loadStateDict(good, { strict: 'no' as never }),
      'INVALID_OPTION',
      {
        argument: 'strict',
        snapshot,
      },
    );
  });

  it('strict: false loads what is there and lists what is not', () => {
    const partial = clone(good);
    Reflect.deleteProperty(partial.regularizer ?? {}, 'dropout');
    Reflect.deleteProperty(partial.optimizer.slots, 'policy/3');
    Reflect.deleteProperty(partial.regularizer?.optimizer?.slots ?? {}, 'chosen/0');
    Reflect.deleteProperty(partial, 'sampler');
    const other = new GanpoTrainer(trainerArgs(smallPolicy(tok, 5), smallPolicy(tok, 6)));
    const { missingKeys } = other.loadStateDict(partial, { strict: false });
    expect(missingKeys.sort()).toEqual(
      [
        'optimizer.slots.policy/3',
        'regularizer.dropout',
        'regularizer.optimizer.slots.chosen/0',
        'sampler',
      ].sort(),
    );
    // What is there is restored exactly.
    const restored = other.stateDict();
    expect(restored.policy).toEqual(good.policy);
    expect(restored.regularizer?.discriminators).toEqual(good.regularizer?.discriminators);
    expect(restored.optimizer.slots['policy/2']).toEqual(good.optimizer.slots['policy/2']);
    expect(restored.optimizer.slots['policy/3']).toBeNull();
    expect(other.loadStateDict(good).missingKeys).toEqual([]);
    other.dispose();
  });

  it('a full state round-trips through JSON with every slot listed (null for none yet)', () => {
    const keys = Object.keys(good.optimizer.slots);
    expect(keys).toEqual(trainer.policy.trainableVariables.map((_, i) => `policy/${i}`));
  });
});

describe('AdamW.loadStateDict: no key reaches Object.prototype', () => {
  it("a slot keyed '__proto__' (as JSON.parse makes it) is INVALID_FORMAT, not a raw TypeError", async () => {
    const v = tf.variable(tf.ones([2]));
    const opt = new AdamW({ learningRate: 0.1 });
    opt.minimize(() => tf.sum(tf.square(v)) as tf.Scalar, false, [v]);
    const snapshot = () => JSON.stringify(opt.stateDict());
    const good = opt.stateDict();
    const slot = Object.values(good.slots)[0];
    const bad = { ...good, slots: JSON.parse(`{"__proto__": ${JSON.stringify(slot)}}`) };
    await expectRefusal(tally, () => opt.loadStateDict(bad), 'INVALID_FORMAT', {
      argument: 'slots',
      snapshot,
    });
    opt.dispose();
    v.dispose();
  });
});

describe('BatchSampler: options and positions a sampler can reach', () => {
  it('refuses non-boolean shuffle / dropLast, in the constructor and in a state', async () => {
    for (const [key, value] of [
      ['shuffle', 'yes'],
      ['shuffle', 1],
      ['dropLast', 'no'],
      ['dropLast', 0],
    ] as const) {
      await expectRefusal(
        tally,
        () => new BatchSampler({ datasetSize: 10, batchSize: 3, [key]: value }),
        'INVALID_OPTION',
        {
          argument: key,
        },
      );
    }
    const s = new BatchSampler({ datasetSize: 10, batchSize: 3 });
    const state = { ...s.stateDict(), shuffle: 'yes' as unknown as boolean };
    await expectRefusal(tally, () => s.loadStateDict(state), 'STATE_DICT_MISMATCH', {
      argument: 'state.shuffle',
      snapshot: () => s.stateDict(),
    });
  });

  it('every position next() reaches loads and continues identically; no other does', async () => {
    for (const dropLast of [false, true]) {
      const a = new BatchSampler({ datasetSize: 10, batchSize: 3, seed: 4, dropLast });
      for (let n = 0; n < 12; n++) {
        const b = new BatchSampler({ datasetSize: 10, batchSize: 3, seed: 4, dropLast });
        b.loadStateDict(clone(a.stateDict()));
        expect(b.next()).toEqual(a.next());
      }
      const s = new BatchSampler({ datasetSize: 10, batchSize: 3, seed: 4, dropLast });
      const base = s.stateDict();
      for (const bad of [
        { cursor: 2, step: 1 },
        { cursor: 3, step: 2 },
        { cursor: 6, step: 1 },
        { epoch: 2, cursor: 0, step: 1 },
        { epoch: 1, cursor: 3, step: 99 },
        ...(dropLast ? [{ cursor: 10, step: 4 }] : [{ cursor: 10, step: 3 }]),
      ]) {
        await expectRefusal(tally, () => s.loadStateDict({ ...base, ...bad }), 'INVALID_FORMAT', {
          argument: 'state.step',
          snapshot: () => s.stateDict(),
        });
      }
    }
  });
});

describe('syncReference and loadStateDict: each variable once, float32 only', () => {
  it('syncReference refuses a variable listed twice in either list, assigning nothing', async () => {
    const p = [tf.variable(tf.ones([2])), tf.variable(tf.ones([2]))];
    const r = [tf.variable(tf.zeros([2])), tf.variable(tf.fill([2], 2))];
    const snapshot = () => [...p, ...r].map((v) => Array.from(v.dataSync()));
    await expectRefusal(
      tally,
      () => syncReference(p, [r[0] as tf.Variable, r[0] as tf.Variable], 0.5),
      'INVALID_ARGUMENT',
      {
        argument: 'reference[1]',
        snapshot,
      },
    );
    await expectRefusal(
      tally,
      () => syncReference([p[0] as tf.Variable, p[0] as tf.Variable], r, 0.5),
      'INVALID_ARGUMENT',
      {
        argument: 'policy[1]',
        snapshot,
      },
    );
    syncReference(p, r, 1);
    expect(snapshot()).toEqual([
      [1, 1],
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
    tf.dispose([...p, ...r]);
  });

  it('loadStateDict refuses int32 and bool tensors (weights are float32), changing nothing', async () => {
    const d = new MLPDiscriminator({ latentDim: 4, hiddenDims: [3], seed: 1 });
    const state = d.stateDict();
    const snapshot = () => {
      const s = d.stateDict();
      const out = Object.fromEntries(Object.entries(s).map(([k, t]) => [k, Array.from(t.dataSync())]));
      tf.dispose(Object.values(s));
      return out;
    };
    for (const key of Object.keys(state)) {
      for (const dtype of ['int32', 'bool'] as const) {
        const bad = tf.cast(state[key] as tf.Tensor, dtype);
        await expectRefusal(tally, () => d.loadStateDict({ ...state, [key]: bad }), 'STATE_DICT_MISMATCH', {
          argument: key,
          snapshot,
        });
        bad.dispose();
      }
    }
    tf.dispose(Object.values(state));
    d.dispose();
  });
});
