import { describe, expect, it } from 'vitest';
import {
  applyOp,
  compareAnswers,
  corruptAnswer,
  ERROR_TYPES,
  editDistance,
  encodePairs,
  encodePrompts,
  flipLabels,
  judge,
  makePair,
  makeTaskSplits,
  parsePrompt,
  sampleExample,
  seededRandom,
  TASK_ALPHABET,
  winRate,
} from '../../examples/task/index';
import { CharTokenizer } from '../../examples/tokenizers/char-tokenizer';

describe('digit-string task', () => {
  it('applies each op correctly', () => {
    expect(applyOp('rev', '3141')).toBe('1413');
    expect(applyOp('sort', '3141')).toBe('1134');
    expect(applyOp('inc', '3949')).toBe('4050');
    expect(parsePrompt('sort:3141=')).toEqual({ op: 'sort', digits: '3141' });
    expect(parsePrompt('sort:31a=')).toBeNull();
  });

  it('edit distance', () => {
    expect(editDistance('', '')).toBe(0);
    expect(editDistance('1234', '1234')).toBe(0);
    expect(editDistance('1234', '124')).toBe(1);
    expect(editDistance('1234', '2134')).toBe(2);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', '123')).toBe(3);
  });

  it('the judge gives 1 to the correct answer and graded credit otherwise', () => {
    expect(judge('rev:3141=', '1413')).toEqual({ correct: true, score: 1, expected: '1413' });
    const dropped = judge('rev:3141=', '143');
    expect(dropped.correct).toBe(false);
    expect(dropped.score).toBeCloseTo(0.75);
    expect(judge('rev:3141=', '').score).toBe(0);
    expect(judge('inc:99=', '00').correct).toBe(true);
    expect(() => judge('hello', '1')).toThrow(/not a task prompt/);
    expect(compareAnswers('rev:3141=', '1413', '143')).toBe(1);
    expect(compareAnswers('rev:3141=', '143', '1413')).toBe(0);
    expect(compareAnswers('rev:3141=', '143', '113')).toBe(0.5);
    expect(winRate(['rev:12=', 'rev:34='], ['21', '3'], ['2', '3'])).toBe(0.75);
  });

  it('every structured error yields an answer the judge rejects', () => {
    const random = seededRandom(11);
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const ex = sampleExample(random, 3, 6);
      for (const type of ERROR_TYPES) {
        const bad = corruptAnswer(ex, type, random);
        if (bad === null) continue;
        seen.add(type);
        expect(judge(ex.prompt, bad).correct, `${type} on ${ex.prompt}`).toBe(false);
      }
      const pair = makePair(ex, random);
      expect(judge(pair.prompt, pair.chosen).correct).toBe(true);
      expect(judge(pair.prompt, pair.rejected).correct).toBe(false);
    }
    expect([...seen].sort()).toEqual([...ERROR_TYPES].sort());
    expect(
      corruptAnswer({ op: 'sort', digits: '777', prompt: 'sort:777=', answer: '777' }, 'swap', random),
    ).toBeNull();
  });

  it('splits are seeded, disjoint from train, and the shifted split has longer prompts', () => {
    const a = makeTaskSplits({ seed: 5, trainSize: 300, testSize: 50, shiftedSize: 50 });
    const b = makeTaskSplits({ seed: 5, trainSize: 300, testSize: 50, shiftedSize: 50 });
    const c = makeTaskSplits({ seed: 6, trainSize: 300, testSize: 50, shiftedSize: 50 });
    expect(a).toEqual(b);
    expect(c.train).not.toEqual(a.train);
    const train = new Set(a.train.map((p) => p.prompt));
    expect(a.test.some((p) => train.has(p.prompt))).toBe(false);
    expect(new Set(a.test.map((p) => p.prompt)).size).toBe(50);
    const digits = (p: { prompt: string }) => (parsePrompt(p.prompt)?.digits.length ?? 0) as number;
    expect(Math.max(...a.train.map(digits))).toBeLessThanOrEqual(6);
    expect(Math.min(...a.shifted.map(digits))).toBeGreaterThanOrEqual(7);
    const ops = new Set(a.train.map((p) => p.op));
    expect(ops.size).toBe(3);
  });

  it('flips exactly round(rate·N) labels', () => {
    const { train } = makeTaskSplits({ seed: 2, trainSize: 50, testSize: 1, shiftedSize: 1 });
    for (const rate of [0, 0.2, 0.4, 1]) {
      const { pairs, flipped } = flipLabels(train, rate, 9);
      expect(flipped.filter(Boolean).length).toBe(Math.round(rate * 50));
      pairs.forEach((p, i) => {
        const o = train[i] as (typeof train)[number];
        expect(p.chosen).toBe(flipped[i] ? o.rejected : o.chosen);
        expect(p.rejected).toBe(flipped[i] ? o.chosen : o.rejected);
      });
    }
    expect(flipLabels(train, 0.2, 9).flipped).toEqual(flipLabels(train, 0.2, 9).flipped);
    expect(flipLabels(train, 0.2, 9).flipped).not.toEqual(flipLabels(train, 0.2, 10).flipped);
    expect(() => flipLabels(train, 1.5)).toThrow();
  });

  it('encodes pairs for the collator with BOS on the prompt and no EOS', () => {
    const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
    const [p] = encodePairs(tok, [
      { prompt: 'rev:12=', chosen: '21', rejected: '2', op: 'rev', errorType: 'drop' },
    ]);
    expect(p?.prompt[0]).toBe(tok.bosId);
    expect(tok.decode(p?.prompt ?? [])).toBe('rev:12=');
    expect(tok.decode(p?.chosen ?? [])).toBe('21');
    expect(p?.chosen.includes(tok.eosId)).toBe(false);
    expect(encodePrompts(tok, ['inc:5='])).toEqual([tok.encode('inc:5=', { addBos: true })]);
  });
});
