import * as tf from '@tensorflow/tfjs-core';
import {
  type CausalLM,
  causalLogProbs,
  dpoLoss,
  type GanpoErrorCode,
  GanpoTrainer,
  type GanpoTrainerOptions,
  type PreferencePair,
  preferenceMetrics,
  readSafetensors,
  referenceCacheFromBytes,
  referenceCacheToBytes,
  relativisticDiscriminatorLoss,
  sequenceLogProbs,
  warmupCosineSchedule,
  warmupLinearSchedule,
  writeSafetensors,
} from 'ganpo';
import { describe, expect, it } from 'vitest';
import { encodePairs, makeTaskSplits, TASK_ALPHABET } from '../examples/task';
import { TinyLM } from '../examples/tiny-lm';
import { CharTokenizer } from '../examples/tokenizers/char-tokenizer';

import { ganpoDiscriminatorLoss, ganpoGeneratorLoss } from '../src/divergence/ganpo-relativistic';

import { expectRefusal, hostileTally } from './support/hostile';
import { SMALL_DROPOUT_CRITIC, type TrainerOverrides } from './support/trainer-args';

const tally = hostileTally('restore, resume and leaks');

const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
const pairs: PreferencePair[] = encodePairs(
  tok,
  makeTaskSplits({ seed: 3, trainSize: 16, testSize: 1, shiftedSize: 1 }).train,
);
const DIM = 8;

function policy(seed: number): TinyLM {
  return new TinyLM({ vocabSize: tok.vocabSize, maxSeqLen: 32, dim: DIM, numLayers: 1, numHeads: 2, seed });
}

function args(p: CausalLM, reference: CausalLM, extra: TrainerOverrides = {}): GanpoTrainerOptions {
  const { model, data, training, ...rest } = extra;
  return {
    model: { policy: p, reference, latentDim: DIM, ...model },
    data: {
      collate: { padTokenId: tok.padId, eosTokenId: tok.eosId, maxLength: 32, vocabSize: tok.vocabSize },
      batchSize: 4,
      ...data,
    },
    training: { learningRate: 1e-2, totalSteps: 8, warmupRatio: 0, ...training },
    regularizer: { critic: SMALL_DROPOUT_CRITIC, seed: 7 },
    ...rest,
  };
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

describe('GanpoTrainer.restore: all or nothing', () => {
  it('every refused checkpoint leaves the trainer exactly as it was', async () => {
    const a = policy(1);
    const ref = a.clone();
    const source = new GanpoTrainer(args(a, ref));
    await source.train(pairs, { steps: 2 });
    const good = clone(source.stateDict());
    source.dispose();
    const b = policy(2);
    const trainer = new GanpoTrainer(args(b, ref));
    await trainer.train(pairs, { steps: 1 });
    const snapshot = () => trainer.stateDict();
    type Ckpt = ReturnType<typeof clone<typeof good>>;
    const cases: [string, (c: Ckpt) => void, GanpoErrorCode][] = [
      ['step "abc"', (c) => Object.assign(c, { step: 'abc' }), 'INVALID_OPTION'],
      ['step NaN', (c) => Object.assign(c, { step: Number.NaN }), 'NON_FINITE'],
      ['step -5', (c) => Object.assign(c, { step: -5 }), 'OUT_OF_RANGE'],
      ['step 1.5', (c) => Object.assign(c, { step: 1.5 }), 'OUT_OF_RANGE'],
      ['step missing', (c) => Reflect.deleteProperty(c, 'step'), 'INVALID_OPTION'],
      ['regularizer missing', (c) => Reflect.deleteProperty(c, 'regularizer'), 'INVALID_FORMAT'],
      ['regularizer null', (c) => Object.assign(c, { regularizer: null }), 'STATE_DICT_MISMATCH'],
      [
        'regularizer options',
        (c) => Object.assign(c.regularizer?.options ?? {}, { weight: 123 }),
        'STATE_DICT_MISMATCH',
      ],
      ['regularizer steps', (c) => Object.assign(c.regularizer ?? {}, { steps: -1 }), 'OUT_OF_RANGE'],
      ['regularizer means', (c) => Object.assign(c.regularizer ?? {}, { means: {} }), 'INVALID_FORMAT'],
      [
        'regularizer batch means NaN',
        (c) => {
          const r = c.regularizer as unknown as { means: { batch: { chosen: { policy: unknown } } | null } };
          if (r.means.batch) r.means.batch.chosen.policy = 'NaN';
          else r.means.batch = { chosen: { policy: 'NaN' } };
        },
        'INVALID_FORMAT',
      ],
      [
        'discriminator key missing',
        (c) => Reflect.deleteProperty(c.regularizer?.discriminators.rejected ?? {}, 'head.2.bias'),
        'STATE_DICT_MISMATCH',
      ],
      [
        'discriminator weight NaN',
        (c) => {
          const t = c.regularizer?.discriminators.rejected['head.2.bias'];
          if (t) t.data[0] = Number.NaN;
        },
        'NON_FINITE',
      ],
      [
        'discriminator data strings',
        (c) => {
          const t = c.regularizer?.discriminators.chosen['head.2.bias'];
          if (t) (t.data as unknown[])[0] = 'x';
        },
        'INVALID_FORMAT',
      ],
      [
        'regularizer optimizer slot shape',
        (c) => {
          const slot = Object.values(c.regularizer?.optimizer?.slots ?? {})[0];
          if (slot) slot.shape = [...slot.shape, 1];
        },
        'STATE_DICT_MISMATCH',
      ],
      [
        'regularizer optimizer slot NaN',
        (c) => {
          const slot = Object.values(c.regularizer?.optimizer?.slots ?? {})[0];
          if (slot) slot.m[0] = Number.NaN;
        },
        'NON_FINITE',
      ],
      [
        'regularizer optimizer missing',
        (c) => Object.assign(c.regularizer ?? {}, { optimizer: null }),
        'STATE_DICT_MISMATCH',
      ],
      [
        'regularizer dropout',
        (c) => Object.assign(c.regularizer ?? {}, { dropout: { chosen: { seed: -1, counter: 0 } } }),
        'INVALID_FORMAT',
      ],
      ['sampler cursor', (c) => Object.assign(c.sampler ?? {}, { cursor: -1 }), 'OUT_OF_RANGE'],
      ['sampler batch size', (c) => Object.assign(c.sampler ?? {}, { batchSize: 2 }), 'STATE_DICT_MISMATCH'],
      ['sampler text', (c) => Object.assign(c, { sampler: 'x' }), 'INVALID_FORMAT'],
      ['sampler missing', (c) => Reflect.deleteProperty(c, 'sampler'), 'INVALID_FORMAT'],
      ['policy length', (c) => c.policy.pop(), 'STATE_DICT_MISMATCH'],
      ['policy shape', (c) => Object.assign(c.policy[0] ?? {}, { shape: [1] }), 'STATE_DICT_MISMATCH'],
      [
        'policy NaN',
        (c) => {
          const p = c.policy.at(-1);
          if (p) p.data[0] = Number.NaN;
        },
        'NON_FINITE',
      ],
      ['policy null', (c) => Object.assign(c.policy, { 0: null }), 'STATE_DICT_MISMATCH'],
      [
        'optimizer NaN moment',
        (c) => {
          const slot = Object.values(c.optimizer.slots)[0];
          if (slot) slot.v[0] = Number.NaN;
        },
        'NON_FINITE',
      ],
      [
        'optimizer negative v',
        (c) => {
          const slot = Object.values(c.optimizer.slots)[0];
          if (slot) slot.v[0] = -1;
        },
        'NON_FINITE',
      ],
      [
        'optimizer unknown slot',
        (c) => {
          const slot = Object.values(c.optimizer.slots)[0];
          if (slot) c.optimizer.slots['policy/999'] = slot;
        },
        'STATE_DICT_MISMATCH',
      ],
      ['optimizer beta', (c) => Object.assign(c.optimizer.config, { beta1: 0.5 }), 'STATE_DICT_MISMATCH'],
      ['format', (c) => Object.assign(c, { format: 'other' }), 'INVALID_FORMAT'],
    ];
    for (const [label, mutate, code] of cases) {
      const bad = clone(good);
      mutate(bad);
      const err = await expectRefusal(tally, () => trainer.loadStateDict(bad), code, {
        snapshot,
        maxPeakBytes: null,
      });
      expect(err.code, label).toBe(code);
    }
    for (const c of [null, undefined, 3, 'x']) {
      await expectRefusal(tally, () => trainer.loadStateDict(c as unknown as Ckpt), 'INVALID_FORMAT', {
        snapshot,
      });
    }
    // The good checkpoint still loads afterwards, and the trainer continues.
    trainer.loadStateDict(good);
    expect(trainer.step).toBe(2);
    trainer.dispose();
    for (const m of [a, b, ref]) m.dispose();
  });

  it('GanpoRegularizer.loadState with an optimizer slot of bad shape changes nothing', async () => {
    const p = policy(3);
    const ref = p.clone();
    const trainer = new GanpoTrainer(args(p, ref));
    await trainer.train(pairs, { steps: 1 });
    const reg = trainer.regularizer;
    if (!reg) throw new Error('no regularizer');
    const state = reg.stateDict();
    const bad = clone(state);
    const [key, slot] = Object.entries(bad.optimizer?.slots ?? {})[0] ?? [];
    if (key && slot) {
      slot.shape = [slot.shape.reduce((x, y) => x * y, 1)];
    }
    bad.discriminators.chosen['head.0.bias']?.data.fill(1);
    await expectRefusal(tally, () => reg.loadStateDict(bad), 'STATE_DICT_MISMATCH', {
      snapshot: () => reg.stateDict(),
    });
    trainer.dispose();
    for (const m of [p, ref]) m.dispose();
  });

  it('setReferenceCache refuses a cache for another hidden size, NaN log-probs, bad lengths; bytes read from Buffers', async () => {
    const p = policy(4);
    const ref = p.clone();
    const trainer = new GanpoTrainer(args(p, ref));
    const cache = trainer.precomputeReference(pairs.slice(0, 4));
    const bytes = referenceCacheToBytes(cache);
    expect(referenceCacheFromBytes(Buffer.from(bytes))).toEqual(cache);
    const padded = Buffer.concat([Buffer.alloc(5), Buffer.from(bytes)]);
    expect(referenceCacheFromBytes(padded.subarray(5))).toEqual(cache);
    // Hostile cache files: an extra tensor, latents whose rows disagree with the lengths.
    const edit = (f: (t: Record<string, tf.Tensor>) => void): Uint8Array => {
      const t = readSafetensors(bytes);
      f(t);
      const out = writeSafetensors(t);
      tf.dispose(Object.values(t));
      return out;
    };
    const extraFile = edit((t) => {
      t.evil = tf.scalar(1);
    });
    await expectRefusal(tally, () => referenceCacheFromBytes(extraFile), 'INVALID_FORMAT', {
      argument: 'bytes',
    });
    const rowsFile = edit((t) => {
      t['latents.0.chosen']?.dispose();
      t['latents.0.chosen'] = tf.zeros([1, DIM]);
    });
    await expectRefusal(tally, () => referenceCacheFromBytes(rowsFile), 'INVALID_FORMAT', {
      argument: 'latents.0',
    });
    const other = new GanpoTrainer(
      args(p, ref, {
        model: { latentDim: DIM * 2 },
        regularizer: { critic: { kind: 'mlp', hiddenDims: [4] } },
      }),
    );
    await expectRefusal(tally, () => other.setReferenceCache(cache), 'SHAPE_MISMATCH', {
      argument: 'entries[0].chosenLatents',
    });
    const variants: [(c: typeof cache) => unknown, GanpoErrorCode][] = [
      [(c) => Object.assign(c[0] ?? {}, { chosenLogp: Number.NaN }), 'NON_FINITE'],
      [(c) => Object.assign(c[0] ?? {}, { rejectedLogp: 1e39 }), 'NON_FINITE'],
      [
        (c) => {
          const latents = Float32Array.from(c[1]?.chosenLatents ?? []);
          latents[3] = Number.NaN;
          Object.assign(c[1] ?? {}, { chosenLatents: latents });
        },
        'NON_FINITE',
      ],
      [(c) => Object.assign(c[1] ?? {}, { rejectedLength: -1 }), 'OUT_OF_RANGE'],
      [(c) => Object.assign(c[1] ?? {}, { rejectedLength: 2.5 }), 'OUT_OF_RANGE'],
      [(c) => Object.assign(c[2] ?? {}, { rejectedLatents: undefined }), 'SHAPE_MISMATCH'],
      [(c) => Object.assign(c, { 3: null }), 'INVALID_ARGUMENT'],
    ];
    for (const [mutate, code] of variants) {
      const bad = cache.map((e) => ({ ...e }));
      mutate(bad);
      await expectRefusal(tally, () => trainer.setReferenceCache(bad), code);
    }
    await expectRefusal(
      tally,
      () => trainer.setReferenceCache('x' as unknown as typeof cache),
      'INVALID_ARGUMENT',
    );
    // The writer checks entries the same way: a null entry or a log-prob beyond float32.
    await expectRefusal(
      tally,
      () => referenceCacheToBytes([cache[0], null] as unknown as typeof cache),
      'INVALID_ARGUMENT',
      { argument: 'entries[1]' },
    );
    await expectRefusal(
      tally,
      () => referenceCacheToBytes([{ ...(cache[0] as (typeof cache)[0]), chosenLogp: -1e39 }]),
      'NON_FINITE',
      { argument: 'entries[0].chosenLogp' },
    );
    trainer.setReferenceCache(cache);
    for (const t of [trainer, other]) t.dispose();
    for (const m of [p, ref]) m.dispose();
  });
});

describe('exact resume with dropout 0.1 in the discriminators', () => {
  it('checkpoint → JSON → restore into a fresh trainer → continue equals an uninterrupted run bit for bit', async () => {
    const run = async (split: boolean, keepDropout = true) => {
      const p = policy(5);
      const ref = p.clone();
      let trainer = new GanpoTrainer(args(p, ref));
      if (split) {
        await trainer.train(pairs, { steps: 2 });
        const saved = clone(trainer.stateDict());
        if (!keepDropout && saved.regularizer) saved.regularizer.dropout = null;
        trainer.dispose();
        const fresh = policy(99);
        trainer = new GanpoTrainer(
          args(fresh, ref, {
            regularizer: { ...(args(fresh, ref).regularizer as object), seed: 1234 },
          }),
        );
        // Without the dropout positions the state is refused unless loaded non-strict, which says so.
        const { missingKeys } = trainer.loadStateDict(saved, { strict: keepDropout });
        expect(missingKeys).toEqual(keepDropout ? [] : ['regularizer.dropout']);
        await trainer.train(pairs, { steps: 2 });
        const out = {
          policy: fresh.trainableVariables.map((v) => Array.from(v.dataSync())),
          d: trainer.regularizer?.stateDict(),
        };
        trainer.dispose();
        for (const m of [p, ref, fresh]) m.dispose();
        return out;
      }
      await trainer.train(pairs, { steps: 4 });
      const out = {
        policy: p.trainableVariables.map((v) => Array.from(v.dataSync())),
        d: trainer.regularizer?.stateDict(),
      };
      trainer.dispose();
      for (const m of [p, ref]) m.dispose();
      return out;
    };
    const want = await run(false);
    const got = await run(true);
    expect(got.policy).toEqual(want.policy);
    expect(got.d?.discriminators).toEqual(want.d?.discriminators);
    expect(got.d?.means).toEqual(want.d?.means);
    expect(got.d?.dropout).toEqual(want.d?.dropout);
    expect(want.d?.dropout?.chosen.counter).toBeGreaterThan(0);
    // Control: without the saved dropout position the resumed run draws other masks and differs.
    const without = await run(true, false);
    expect(without.d?.discriminators).not.toEqual(want.d?.discriminators);
  });
});

describe('leaks and plain errors', () => {
  it('every trainer method after dispose throws DISPOSED and leaks nothing', async () => {
    const p = policy(6);
    const ref = p.clone();
    const trainer = new GanpoTrainer(args(p, ref));
    trainer.dispose();
    trainer.dispose();
    const calls: (() => unknown)[] = [
      () => trainer.trainStep(pairs.slice(0, 4)),
      () => trainer.train(pairs),
      () => trainer.evaluate(pairs.slice(0, 4)),
      () => trainer.stateDict(),
      () => trainer.loadStateDict({} as never),
      () => trainer.precomputeReference(pairs.slice(0, 4)),
      () => trainer.setReferenceCache(null),
    ];
    for (const call of calls) await expectRefusal(tally, call, 'DISPOSED');
    for (const m of [p, ref]) m.dispose();
  });

  it('a user model that throws inside the gradient pass leaks nothing and changes nothing (k = 1 and 2)', async () => {
    for (const k of [1, 2]) {
      const p = policy(7);
      const ref = p.clone();
      let calls = 0;
      let throwAt = -1;
      const model: CausalLM = {
        trainableVariables: p.trainableVariables,
        forward: (ids, o) => {
          calls++;
          if (calls === throwAt) throw new Error('user model failure');
          return p.forward(ids, o);
        },
      };
      const trainer = new GanpoTrainer(args(model, ref, { training: { gradientAccumulationSteps: k } }));
      trainer.trainStep(pairs.slice(0, 4));
      // k = 1: the two policy forwards of the gradient pass; k = 2: the no-grad probe (2), then
      // two per micro-batch.
      for (const at of k === 1 ? [1, 2] : [1, 2, 3, 4, 5, 6]) {
        calls = 0;
        throwAt = at;
        const before = tf.memory().numTensors;
        const state = JSON.stringify(trainer.stateDict());
        tally.tried++;
        let caught: unknown;
        try {
          trainer.trainStep(pairs.slice(4, 8));
        } catch (e) {
          caught = e;
        }
        const leaked = tf.memory().numTensors - before;
        const same = JSON.stringify(trainer.stateDict()) === state;
        if (leaked !== 0) tally.leaks++;
        if (!same && k === 1) tally.partial++;
        if (leaked === 0 && (same || k > 1)) tally.clean++;
        expect((caught as Error)?.message).toBe('user model failure');
        expect(leaked, `k=${k}, throw at forward ${at}`).toBe(0);
        if (k === 1) expect(same, `k=${k}, throw at forward ${at}: state changed`).toBe(true);
      }
      throwAt = -1;
      const m = trainer.trainStep(pairs.slice(4, 8));
      expect(m.skipped).toBe(false);
      trainer.dispose();
      for (const x of [p, ref]) x.dispose();
    }
  });

  it('null or missing arguments object: a GanpoError naming args, not a TypeError', async () => {
    const fns: [string, (a: unknown) => unknown][] = [
      ['dpoLoss', (a) => dpoLoss(a as never)],
      ['sequenceLogProbs', (a) => sequenceLogProbs(a as never)],
      ['causalLogProbs', (a) => causalLogProbs(a as never)],
      ['relativisticDiscriminatorLoss', (a) => relativisticDiscriminatorLoss(a as never)],
      ['ganpoDiscriminatorLoss', (a) => ganpoDiscriminatorLoss(a as never)],
      ['ganpoGeneratorLoss', (a) => ganpoGeneratorLoss(a as never)],
      ['warmupCosineSchedule', (a) => warmupCosineSchedule(a as never)],
      ['warmupLinearSchedule', (a) => warmupLinearSchedule(a as never)],
      ['preferenceMetrics', (a) => preferenceMetrics(a as never)],
      ['GanpoTrainer', (a) => new GanpoTrainer(a as never)],
    ];
    for (const [, fn] of fns) {
      for (const a of [null, undefined, 3]) {
        const err = await expectRefusal(tally, () => fn(a), 'INVALID_ARGUMENT');
        expect(err.message).not.toMatch(/Cannot (read|destructure)/);
      }
    }
  });

  it('causalLogProbs with B = 0 returns empty results like sequenceLogProbs', () => {
    const before = tf.memory().numTensors;
    const logits = tf.zeros([0, 5, 7]) as tf.Tensor3D;
    const ids = tf.zeros([0, 5], 'int32') as tf.Tensor2D;
    const mask = tf.zeros([0, 5]) as tf.Tensor2D;
    const out = causalLogProbs({ logits, inputIds: ids, lossMask: mask });
    expect(out.sum.shape).toEqual([0]);
    tf.dispose([logits, ids, mask, ...Object.values(out)]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
