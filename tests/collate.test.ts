import * as tf from '@tensorflow/tfjs-core';
import {
  BatchSampler,
  type CollateOptions,
  collatePreferencePairs,
  disposePreferenceBatch,
  type PreferencePair,
  setValidationLevel,
} from 'ganpo';
import { afterEach, describe, expect, it } from 'vitest';

import {
  collatePreferenceArrays,
  concatenatePreferenceBatch,
  truncatePreferencePair,
} from '../src/trainer/collate';

import { expectGanpoError, expectNoLeak, loadFixture } from './support/helpers';

interface SideFixture {
  inputIds: number[][];
  attentionMask: number[][];
  completionMask: number[][];
  completionLengths: number[];
}
interface CaseFixture {
  name: string;
  options: CollateOptions;
  pairs: PreferencePair[];
  expected: { chosen: SideFixture; rejected: SideFixture; seqLength: number };
}
const fixture = loadFixture<{ cases: CaseFixture[] }>('collate_trl.json');

const rows = (t: tf.Tensor): number[][] => t.arraySync() as number[][];

describe('collatePreferencePairs matches TRL DPOTrainer (PyTorch reference of v0.28)', () => {
  for (const c of fixture.cases) {
    it(c.name, () => {
      const batch = collatePreferencePairs(c.pairs, c.options);
      expect(batch.seqLength).toBe(c.expected.seqLength);
      expect(batch.batchSize).toBe(c.pairs.length);
      for (const side of ['chosen', 'rejected'] as const) {
        const got = batch[side];
        const want = c.expected[side];
        expect(got.inputIds.dtype).toBe('int32');
        expect(got.attentionMask.dtype).toBe('float32');
        expect(rows(got.inputIds), `${side} inputIds`).toEqual(want.inputIds);
        expect(rows(got.attentionMask), `${side} attentionMask`).toEqual(want.attentionMask);
        expect(rows(got.completionMask), `${side} completionMask`).toEqual(want.completionMask);
        expect(Array.from(got.completionLengths.dataSync())).toEqual(want.completionLengths);
        expect(batch.lengths[side]).toEqual(want.completionLengths);
      }
      disposePreferenceBatch(batch);
    });
  }

  it('the plain-array form agrees with the tensor form', () => {
    const c = fixture.cases[4] as CaseFixture;
    const arrays = collatePreferenceArrays(c.pairs, c.options);
    expect(Array.from(arrays.rejected.inputIds)).toEqual(c.expected.rejected.inputIds.flat());
    expect(Array.from(arrays.chosen.completionMask)).toEqual(c.expected.chosen.completionMask.flat());
  });
});

describe('collation semantics, by hand', () => {
  const pair: PreferencePair = { prompt: [5, 6, 7, 8], chosen: [9, 10], rejected: [11] };

  it('appends EOS to responses, prepends BOS to the prompt, right-pads to a shared T', () => {
    const { chosen, rejected } = truncatePreferencePair(pair, {
      padTokenId: 0,
      eosTokenId: 2,
      bosTokenId: 1,
    });
    expect(chosen.ids).toEqual([1, 5, 6, 7, 8, 9, 10, 2]);
    expect(chosen.completionMask).toEqual([0, 0, 0, 0, 0, 1, 1, 1]);
    expect(rejected.ids).toEqual([1, 5, 6, 7, 8, 11, 2]);
    const b = collatePreferencePairs([pair], { padTokenId: 0, eosTokenId: 2, maskDtype: 'int32' });
    expect(b.seqLength).toBe(7);
    expect(rows(b.rejected.inputIds)).toEqual([[5, 6, 7, 8, 11, 2, 0]]);
    expect(rows(b.rejected.attentionMask)).toEqual([[1, 1, 1, 1, 1, 1, 0]]);
    expect(b.rejected.attentionMask.dtype).toBe('int32');
    expect(b.lengths.chosenPrompt).toEqual([4]);
    disposePreferenceBatch(b);
  });

  it('the prompt keeps its end and the response its start, whatever the truncation mode', () => {
    for (const truncationMode of ['keep_end', 'keep_start'] as const) {
      const { chosen } = truncatePreferencePair(pair, {
        padTokenId: 0,
        eosTokenId: 2,
        maxPromptLength: 2,
        maxCompletionLength: 2,
        maxLength: null,
        truncationMode,
      });
      expect(chosen.ids).toEqual([7, 8, 9, 10]);
    }
  });

  it('keep_start cuts EOS first; keep_end cuts the start of the prompt', () => {
    const o = { padTokenId: 0, eosTokenId: 2, maxLength: 5 } as const;
    expect(truncatePreferencePair(pair, { ...o, truncationMode: 'keep_start' }).chosen.ids).toEqual([
      5, 6, 7, 8, 9,
    ]);
    expect(truncatePreferencePair(pair, { ...o, truncationMode: 'keep_end' }).chosen.ids).toEqual([
      7, 8, 9, 10, 2,
    ]);
  });

  it('a prompt that fills maxLength under keep_start leaves a zero-length response', () => {
    const b = collatePreferencePairs([pair], {
      padTokenId: 0,
      eosTokenId: 2,
      maxLength: 4,
      truncationMode: 'keep_start',
    });
    expect(b.lengths.chosen).toEqual([0]);
    expect(b.lengths.rejected).toEqual([0]);
    expect(Array.from(b.chosen.completionMask.dataSync())).toEqual([0, 0, 0, 0]);
    disposePreferenceBatch(b);
  });

  it('concatenates chosen and rejected into one [2B,T] batch, chosen first', () => {
    const other: PreferencePair = { prompt: [3], chosen: [4, 4, 4, 4, 4, 4], rejected: [] };
    const b = collatePreferencePairs([pair, other], { padTokenId: 0, eosTokenId: 2 });
    const all = concatenatePreferenceBatch(b);
    expect(all.inputIds.shape).toEqual([4, b.seqLength]);
    expect(rows(all.inputIds)).toEqual([...rows(b.chosen.inputIds), ...rows(b.rejected.inputIds)]);
    expect(rows(all.completionMask)).toEqual([
      ...rows(b.chosen.completionMask),
      ...rows(b.rejected.completionMask),
    ]);
    expect(Array.from(all.completionLengths.dataSync())).toEqual([3, 7, 2, 1]);
    tf.dispose(Object.values(all));
    disposePreferenceBatch(b);
  });

  it('leaks nothing', async () => {
    await expectNoLeak(() => {
      const b = collatePreferencePairs([pair, pair], { padTokenId: 0, eosTokenId: 2 });
      tf.dispose(Object.values(concatenatePreferenceBatch(b)));
      disposePreferenceBatch(b);
    });
  });
});

describe('collation rejects bad input', () => {
  afterEach(() => setValidationLevel('full'));
  const ok: PreferencePair = { prompt: [3], chosen: [4], rejected: [5] };
  const o = { padTokenId: 0, eosTokenId: 2 };

  it('names the offending pair and field', () => {
    expectGanpoError(() => collatePreferencePairs([], o), 'SHAPE_MISMATCH', 'pairs');
    expectGanpoError(() => collatePreferencePairs('x' as never, o), 'INVALID_ARGUMENT', 'pairs');
    expectGanpoError(
      () => collatePreferencePairs([ok, { prompt: [1], chosen: 'ab' as never, rejected: [] }], o),
      'INVALID_ARGUMENT',
      'pairs[1].chosen',
    );
    const e = expectGanpoError(
      () => collatePreferencePairs([ok, { prompt: [1, -1], chosen: [], rejected: [] }], o),
      'OUT_OF_RANGE',
      'pairs[1].prompt',
    );
    expect(e.received).toBe('pairs[1].prompt[1] = -1');
    expectGanpoError(
      () => collatePreferencePairs([{ prompt: [1.5], chosen: [], rejected: [] }], o),
      'OUT_OF_RANGE',
      'pairs[0].prompt',
    );
    expectGanpoError(
      () => collatePreferencePairs([{ prompt: [1], chosen: [], rejected: [9] }], { ...o, vocabSize: 9 }),
      'OUT_OF_RANGE',
      'pairs[0].rejected',
    );
  });

  it('checks options', () => {
    expectGanpoError(
      () => collatePreferencePairs([ok], { eosTokenId: 2 } as never),
      'INVALID_ARGUMENT',
      'padTokenId',
    );
    expectGanpoError(
      () => collatePreferencePairs([ok], { padTokenId: 0 } as never),
      'INVALID_ARGUMENT',
      'eosTokenId',
    );
    expectGanpoError(() => collatePreferencePairs([ok], { ...o, maxLength: 0 }), 'OUT_OF_RANGE', 'maxLength');
    expectGanpoError(
      () => collatePreferencePairs([ok], { ...o, maxPromptLength: 2.5 }),
      'OUT_OF_RANGE',
      'maxPromptLength',
    );
    expectGanpoError(
      () => collatePreferencePairs([ok], { ...o, truncationMode: 'keep_middle' as never }),
      'INVALID_OPTION',
      'truncationMode',
    );
    expectGanpoError(
      () => collatePreferencePairs([ok], { ...o, padTokenId: 12, vocabSize: 10 }),
      'OUT_OF_RANGE',
      'padTokenId',
    );
  });

  it("skips per-token value checks at validation level 'shapes'", () => {
    setValidationLevel('shapes');
    const a = collatePreferenceArrays([{ prompt: [1.5], chosen: [], rejected: [] }], o);
    expect(a.seqLength).toBe(2);
  });
});

describe('BatchSampler', () => {
  it('visits every example once per epoch, in a seed-determined order', () => {
    const s = new BatchSampler({ datasetSize: 10, batchSize: 4, seed: 7 });
    expect(s.batchesPerEpoch).toBe(3);
    const epoch0 = [s.next(), s.next(), s.next()];
    expect(epoch0.map((b) => b.indices.length)).toEqual([4, 4, 2]);
    expect(epoch0.every((b) => b.epoch === 0)).toBe(true);
    const seen = epoch0.flatMap((b) => b.indices);
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(seen).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const next = s.next();
    expect(next.epoch).toBe(1);
    expect(next.step).toBe(3);
    expect(s.epochOrder(1)).not.toEqual(s.epochOrder(0));
    expect(new BatchSampler({ datasetSize: 10, batchSize: 4, seed: 7 }).epochOrder(0)).toEqual(seen);
    expect(new BatchSampler({ datasetSize: 10, batchSize: 4, seed: 8 }).epochOrder(0)).not.toEqual(seen);
  });

  it('resumes exactly from a JSON round trip of its state dict; a state of other options is refused', () => {
    const a = new BatchSampler({ datasetSize: 13, batchSize: 5, seed: 3 });
    for (let i = 0; i < 4; i++) a.next();
    const b = new BatchSampler({ datasetSize: 13, batchSize: 5, seed: 3 });
    b.loadStateDict(JSON.parse(JSON.stringify(a.stateDict())));
    for (let i = 0; i < 9; i++) expect(b.next()).toEqual(a.next());
    const other = new BatchSampler({ datasetSize: 13, batchSize: 5, seed: 4 });
    expectGanpoError(() => other.loadStateDict(a.stateDict()), 'STATE_DICT_MISMATCH', 'state.seed');
  });

  it('drops the last partial batch when asked, and can keep the natural order', () => {
    const s = new BatchSampler({ datasetSize: 5, batchSize: 2, shuffle: false, dropLast: true });
    expect([s.next(), s.next(), s.next()].map((b) => b.indices)).toEqual([
      [0, 1],
      [2, 3],
      [0, 1],
    ]);
  });

  it('rejects bad options', () => {
    expectGanpoError(() => new BatchSampler({ datasetSize: 0, batchSize: 1 }), 'OUT_OF_RANGE', 'datasetSize');
    expectGanpoError(() => new BatchSampler({ datasetSize: 3, batchSize: 1.5 }), 'OUT_OF_RANGE', 'batchSize');
    expectGanpoError(
      () => new BatchSampler({ datasetSize: 3, batchSize: 4, dropLast: true }),
      'OUT_OF_RANGE',
      'batchSize',
    );
    const s = new BatchSampler({ datasetSize: 3, batchSize: 1 });
    expectGanpoError(() => s.loadStateDict({ ...s.stateDict(), cursor: 4 }), 'OUT_OF_RANGE', 'state.cursor');
    const typo = { datasetSize: 3, batchSize: 1, shuffel: false } as never;
    const e = expectGanpoError(() => new BatchSampler(typo), 'INVALID_OPTION', 'shuffel');
    expect(e.expected).toContain("did you mean 'shuffle'?");
  });
});
