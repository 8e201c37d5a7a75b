import { mulberry32 } from '../random';
// A synthetic preference task whose quality a program can judge exactly: prompts ask for a
// transformation of a digit string ("rev:3141=" → "1413"); the chosen response is the correct answer,
// the rejected one the correct answer with one structured error. Everything is seeded.

/** The transformations a prompt can ask for. */
export type TaskOp = 'rev' | 'sort' | 'inc';
/** All ops, in a fixed order. */
export const TASK_OPS: readonly TaskOp[] = ['rev', 'sort', 'inc'];
/** The structured errors of rejected answers. */
export type ErrorType = 'drop' | 'swap' | 'replace' | 'wrong_op';
export const ERROR_TYPES: readonly ErrorType[] = ['drop', 'swap', 'replace', 'wrong_op'];
/** Every character a prompt or answer can contain (for `new CharTokenizer({ alphabet: TASK_ALPHABET })`). */
export const TASK_ALPHABET = '0123456789:=ceinorstv';

/** One prompt and its correct answer. */
export interface TaskExample {
  op: TaskOp;
  digits: string;
  /** `${op}:${digits}=` */
  prompt: string;
  /** The correct answer. */
  answer: string;
}

/** A text preference pair; `errorType` says how `rejected` was corrupted. */
export interface TextPair {
  prompt: string;
  chosen: string;
  rejected: string;
  op: TaskOp;
  errorType: ErrorType;
}

/** A seeded generator of floats in [0, 1) (Math.random cannot be seeded): ganpo's mulberry32. */
export const seededRandom: (seed: number) => () => number = mulberry32;

const randInt = (random: () => number, lo: number, hi: number): number =>
  lo + Math.floor(random() * (hi - lo + 1));
const pick = <T>(random: () => number, xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;

/** The correct answer of `op` on `digits`: reversed, sorted ascending, or each digit + 1 mod 10. */
export function applyOp(op: TaskOp, digits: string): string {
  switch (op) {
    case 'rev':
      return [...digits].reverse().join('');
    case 'sort':
      return [...digits].sort().join('');
    case 'inc':
      return [...digits].map((d) => String((Number(d) + 1) % 10)).join('');
  }
}

/** The prompt text of an example. */
export function formatPrompt(op: TaskOp, digits: string): string {
  return `${op}:${digits}=`;
}

/** Parses `"op:digits="`; null when the text is not a task prompt. */
export function parsePrompt(prompt: string): { op: TaskOp; digits: string } | null {
  const m = /^(rev|sort|inc):([0-9]+)=$/.exec(prompt);
  return m ? { op: m[1] as TaskOp, digits: m[2] as string } : null;
}

/** Draws one example with a digit string of `minDigits..maxDigits` digits. */
export function sampleExample(
  random: () => number,
  minDigits: number,
  maxDigits: number,
  ops = TASK_OPS,
): TaskExample {
  const op = pick(random, ops);
  const n = randInt(random, minDigits, maxDigits);
  let digits = '';
  for (let i = 0; i < n; i++) digits += String(randInt(random, 0, 9));
  return { op, digits, prompt: formatPrompt(op, digits), answer: applyOp(op, digits) };
}

/** Applies one error type; returns null when it cannot change this answer (e.g. swapping "777"). */
export function corruptAnswer(example: TaskExample, type: ErrorType, random: () => number): string | null {
  const a = [...example.answer];
  let out: string;
  switch (type) {
    case 'drop': {
      if (a.length < 2) return null;
      a.splice(randInt(random, 0, a.length - 1), 1);
      out = a.join('');
      break;
    }
    case 'swap': {
      const spots = a.flatMap((c, i) => (i + 1 < a.length && c !== a[i + 1] ? [i] : []));
      if (spots.length === 0) return null;
      const i = pick(random, spots);
      [a[i], a[i + 1]] = [a[i + 1] as string, a[i] as string];
      out = a.join('');
      break;
    }
    case 'replace': {
      const i = randInt(random, 0, a.length - 1);
      a[i] = String((Number(a[i]) + randInt(random, 1, 9)) % 10);
      out = a.join('');
      break;
    }
    case 'wrong_op': {
      const others = TASK_OPS.map((op) => applyOp(op, example.digits)).filter((x) => x !== example.answer);
      if (others.length === 0) return null;
      out = pick(random, others);
      break;
    }
  }
  return out === example.answer ? null : out;
}

/** Turns an example into a preference pair: chosen = correct, rejected = one random applicable error. */
export function makePair(example: TaskExample, random: () => number, errorTypes = ERROR_TYPES): TextPair {
  // A random order of the error types; the first one that changes this answer is used.
  const order = errorTypes.map((t) => ({ t, k: random() })).sort((x, y) => x.k - y.k);
  for (const { t } of order) {
    const rejected = corruptAnswer(example, t, random);
    if (rejected !== null) {
      return { prompt: example.prompt, chosen: example.answer, rejected, op: example.op, errorType: t };
    }
  }
  // 'replace' always changes a non-empty answer; only reachable if the caller excluded it.
  throw new Error(
    `makePair: no error type in [${errorTypes.join(', ')}] changes the answer of ${example.prompt}`,
  );
}

/** Options of {@link makeTaskSplits}. */
export interface TaskSplitOptions {
  seed?: number;
  /** Training pairs. Default 2000. */
  trainSize?: number;
  /** Held-out pairs from the training distribution (prompts never seen in training). Default 200. */
  testSize?: number;
  /** Held-out pairs from the shifted distribution (longer digit strings). Default 200. */
  shiftedSize?: number;
  /** Digit-string lengths of train and test. Default [3, 6]. */
  trainDigits?: [number, number];
  /** Digit-string lengths of the shifted split, longer than any seen in training. Default [7, 9]. */
  shiftedDigits?: [number, number];
  ops?: readonly TaskOp[];
  errorTypes?: readonly ErrorType[];
}

/** The three splits of the task: train, held-out test (same lengths), shifted (longer prompts). */
export interface TaskSplits {
  train: TextPair[];
  test: TextPair[];
  shifted: TextPair[];
}

/**
 * Draws train / test / shifted splits. Test and shifted prompts never occur in train (and test
 * prompts are distinct from each other), so evaluation measures generalisation, not recall.
 */
export function makeTaskSplits(options: TaskSplitOptions = {}): TaskSplits {
  const {
    seed = 0,
    trainSize = 2000,
    testSize = 200,
    shiftedSize = 200,
    trainDigits = [3, 6],
    shiftedDigits = [7, 9],
    ops = TASK_OPS,
    errorTypes = ERROR_TYPES,
  } = options;
  const random = seededRandom(seed);
  const draw = (n: number, [lo, hi]: [number, number], exclude: Set<string>, unique: boolean): TextPair[] => {
    const out: TextPair[] = [];
    const seen = new Set<string>();
    for (let tries = 0; out.length < n; tries++) {
      if (tries > 100 * n + 1000)
        throw new Error(`makeTaskSplits: cannot draw ${n} distinct prompts of ${lo}-${hi} digits`);
      const ex = sampleExample(random, lo, hi, ops);
      if (exclude.has(ex.prompt) || (unique && seen.has(ex.prompt))) continue;
      seen.add(ex.prompt);
      out.push(makePair(ex, random, errorTypes));
    }
    return out;
  };
  const train = draw(trainSize, trainDigits, new Set(), false);
  const trainPrompts = new Set(train.map((p) => p.prompt));
  const test = draw(testSize, trainDigits, trainPrompts, true);
  const shifted = draw(shiftedSize, shiftedDigits, trainPrompts, true);
  return { train, test, shifted };
}

/**
 * Swaps chosen and rejected on exactly round(rate·N) pairs drawn by `seed` (label noise). An exact
 * count, rather than a coin per pair, keeps the noise level identical across seeds.
 */
export function flipLabels(
  pairs: readonly TextPair[],
  rate: number,
  seed = 0,
): { pairs: TextPair[]; flipped: boolean[] } {
  if (!(rate >= 0 && rate <= 1)) throw new Error(`flipLabels: rate must be in [0, 1], got ${rate}`);
  const random = seededRandom(seed ^ 0x5bd1e995);
  const idx = pairs.map((_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
  }
  const flipped = pairs.map(() => false);
  for (const i of idx.slice(0, Math.round(rate * pairs.length))) flipped[i] = true;
  return {
    pairs: pairs.map((p, i) => (flipped[i] ? { ...p, chosen: p.rejected, rejected: p.chosen } : { ...p })),
    flipped,
  };
}

/** Levenshtein distance (insertions, deletions, substitutions) between two strings. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] as number;
      prev[j] = Math.min(up + 1, (prev[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] as number;
}

/** A judged answer: exact correctness and a graded score in [0, 1]. */
export interface Judgement {
  correct: boolean;
  /** 1 − editDistance(answer, expected) / max(|answer|, |expected|, 1); 1 iff correct. */
  score: number;
  expected: string;
}

/** Judges `answer` to a task `prompt`. Throws on a prompt that is not a task prompt. */
export function judge(prompt: string, answer: string): Judgement {
  const parsed = parsePrompt(prompt);
  if (!parsed) throw new Error(`judge: not a task prompt: ${JSON.stringify(prompt)}`);
  const expected = applyOp(parsed.op, parsed.digits);
  const d = editDistance(answer, expected);
  return { correct: d === 0, score: 1 - d / Math.max(answer.length, expected.length, 1), expected };
}

/** 1 if `a` is judged better than `b` on `prompt`, 0 if worse, 0.5 on a tie (win-rate convention). */
export function compareAnswers(prompt: string, a: string, b: string): 0 | 0.5 | 1 {
  const sa = judge(prompt, a).score;
  const sb = judge(prompt, b).score;
  return sa > sb ? 1 : sa < sb ? 0 : 0.5;
}

/** Mean of {@link compareAnswers} over prompts: the judged win rate of answers `a` against `b`. */
export function winRate(prompts: readonly string[], a: readonly string[], b: readonly string[]): number {
  if (prompts.length !== a.length || prompts.length !== b.length || prompts.length === 0) {
    throw new Error('winRate: prompts and both answer lists must be non-empty and of equal length');
  }
  return (
    prompts.reduce((s, p, i) => s + compareAnswers(p, a[i] as string, b[i] as string), 0) / prompts.length
  );
}
