// The data functions refuse what is not data with a GanpoError naming it, never a raw TypeError;
// RunningMoments never stores a non-finite moment.

import {
  applyChatTemplate,
  ByteTokenizer,
  extractPrompt,
  parsePreferenceJsonl,
  RunningMoments,
  tokenizePreferenceData,
} from 'ganpo';
import { describe, expect, it } from 'vitest';
// Internal: the record check parsePreferenceJsonl runs on every line.
import { toPreferenceExample } from '../../src/data/trl-format';
import { expectRefusal, hostileTally } from '../support/hostile';

const tally = hostileTally('data and running moments');
const tokenizer = new ByteTokenizer();
const example = { prompt: 'Q: sky?', chosen: ' blue', rejected: ' green' };
const chat = {
  prompt: [{ role: 'user', content: 'hi' }],
  chosen: [{ role: 'assistant', content: 'hello' }],
  rejected: [{ role: 'assistant', content: 'go away' }],
};

describe('data functions: GanpoError with a code, never a raw TypeError', () => {
  it('extractPrompt: null, numbers, objects, messages that are not messages', async () => {
    const bad: [unknown, unknown, string][] = [
      [null, null, 'chosen'],
      [5, 6, 'chosen'],
      ['a b', 6, 'rejected'],
      [undefined, 'x', 'chosen'],
      [{}, 'x', 'chosen'],
      [[null], [null], 'chosen[0]'],
      [[{ role: 'user' }], [{ role: 'user', content: 'x' }], 'chosen[0]'],
      [[{ role: 'user', content: 'x' }], [{ role: 5, content: 'x' }], 'rejected[0]'],
      [['text'], ['text'], 'chosen[0]'],
    ];
    for (const [chosen, rejected, argument] of bad) {
      await expectRefusal(
        tally,
        () => extractPrompt(chosen as never, rejected as never),
        'INVALID_ARGUMENT',
        {
          argument,
        },
      );
    }
  });

  it('applyChatTemplate: a missing or malformed example, a missing tokenizer', async () => {
    const bad: [unknown, unknown, string][] = [
      [null, tokenizer, 'example'],
      [undefined, tokenizer, 'example'],
      [5, tokenizer, 'example'],
      [[example], tokenizer, 'example'],
      [{ ...example, prompt: null }, tokenizer, 'example.prompt'],
      [{ ...example, chosen: 3 }, tokenizer, 'example.chosen'],
      [{ ...chat, rejected: [null] }, tokenizer, 'example.rejected[0]'],
      [example, null, 'tokenizer'],
      [chat, { encode: 1 }, 'tokenizer.encode'],
    ];
    for (const [ex, tok, argument] of bad) {
      await expectRefusal(tally, () => applyChatTemplate(ex as never, tok as never), 'INVALID_ARGUMENT', {
        argument,
      });
    }
  });

  it('tokenizePreferenceData: null or malformed examples anywhere in the list', async () => {
    const bad: [unknown[], string][] = [
      [[example, null], 'examples[1]'],
      [[null, example], 'examples[0]'],
      [[example, 7], 'examples[1]'],
      [[example, { ...example, rejected: undefined }], 'examples[1].rejected'],
      [[chat, { ...chat, chosen: [{ role: 'assistant', content: ['part'] }] }], 'examples[1].chosen[0]'],
    ];
    for (const [examples, argument] of bad) {
      await expectRefusal(
        tally,
        () => tokenizePreferenceData(examples as never, tokenizer),
        'INVALID_ARGUMENT',
        {
          argument,
        },
      );
    }
    expect(tokenizePreferenceData([example], tokenizer).pairs).toHaveLength(1);
  });

  it('toPreferenceExample and parsePreferenceJsonl keep their own codes (INVALID_FORMAT, with the line)', async () => {
    await expectRefusal(tally, () => toPreferenceExample(null), 'INVALID_FORMAT', { argument: 'record' });
    await expectRefusal(
      tally,
      () => parsePreferenceJsonl('{"chosen": [null], "rejected": "x"}'),
      'INVALID_FORMAT',
      {
        argument: 'chosen[0]',
      },
    );
  });
});

describe('RunningMoments: finite moments or a refusal; the JSON round trip always works', () => {
  const roundTrip = (m: RunningMoments) => {
    const copy = new RunningMoments();
    copy.loadStateDict(JSON.parse(JSON.stringify(m.stateDict())));
    return copy;
  };

  it('after a single value: a finite std (the population one) and a working round trip', () => {
    const m = new RunningMoments();
    m.update([3]);
    const state = m.stateDict();
    expect(Object.values(state).every(Number.isFinite)).toBe(true);
    expect(state.mean).toBe(3);
    expect(roundTrip(m).stateDict()).toEqual(state);
    const t = new RunningMoments();
    const out = t.update([5]);
    expect(out).toEqual({ mean: 5, std: 0 });
  });

  it('huge values: computed without overflow where the moments fit, refused where they do not', async () => {
    const m = new RunningMoments();
    m.update([1e160, 1e160]);
    expect(m.mean).toBe(1e160);
    expect(Object.values(m.stateDict()).every(Number.isFinite)).toBe(true);
    expect(roundTrip(m).stateDict()).toEqual(m.stateDict());
    const n = new RunningMoments();
    n.update([1e150, 3e150, 5e150]);
    expect(n.mean / 3e150).toBeCloseTo(1, 12);
    expect(n.var / (8e300 / 3)).toBeCloseTo(1, 12);
    for (const xs of [
      [1e308, 1e308],
      [1.7e308, -1.7e308],
      [-1e308, -1e308],
    ]) {
      const r = new RunningMoments();
      r.update([1, 2, 3]);
      const before = r.stateDict();
      await expectRefusal(tally, () => r.update(xs), 'OUT_OF_RANGE', {
        argument: 'xs',
        snapshot: () => r.stateDict(),
      });
      expect(r.stateDict()).toEqual(before);
    }
  });

  it('agrees with a two-pass float64 computation on ordinary batches', () => {
    const m = new RunningMoments();
    const all: number[] = [];
    for (const batch of [
      [0.1, -0.3, 0.7],
      [1, 2],
      [-4, 4, 0.5, 0.25],
    ]) {
      m.update(batch);
      all.push(...batch);
    }
    // TRL's prior (count 1e-24 at mean 0, var 1) is negligible after 9 values.
    const mean = all.reduce((a, b) => a + b, 0) / all.length;
    const variance = all.reduce((a, b) => a + (b - mean) ** 2, 0) / all.length;
    expect(m.mean).toBeCloseTo(mean, 12);
    expect(m.var).toBeCloseTo(variance, 12);
    expect(m.std).toBeCloseTo(Math.sqrt((variance * all.length) / (all.length - 1)), 12);
  });
});
