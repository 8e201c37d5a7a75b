import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { parseDemoArgs } from '../examples/demo/args';
import {
  type DemoConfig,
  type DemoResults,
  demoConfig,
  type RunResult,
  runExperiment,
} from '../examples/demo/experiment';
import { mergeResults, type SavedResults } from '../examples/demo/merge';
import { studyMethods } from '../examples/demo/methods';
import { completionKl, latentDrift, squaredDistanceSums, tokenKl } from '../examples/demo/metrics';
import { ProgressBar } from '../examples/demo/progress';
import { conditionsSvg, resultsMarkdown, resultsSvg } from '../examples/demo/report';
import { axisRange, niceStep, renderScatter } from '../examples/demo/scatter';
import { formatMeanStd, meanStd, tFactor95 } from '../examples/demo/stats';
import { renderChart } from '../examples/demo/svg';
import { encodePairs, makeTaskSplits, TASK_ALPHABET } from '../examples/task/index';
import { TinyLM } from '../examples/tiny-lm/index';
import { CharTokenizer } from '../examples/tokenizers/char-tokenizer';

/** Two differently seeded 8-wide tiny LMs over the task alphabet (the metric tests compare them). */
function twoTinyModels(): { tok: CharTokenizer; a: TinyLM; b: TinyLM } {
  const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
  const make = (seed: number) =>
    new TinyLM({ vocabSize: tok.vocabSize, dim: 8, numLayers: 1, numHeads: 2, maxSeqLen: 32, seed });
  return { tok, a: make(1), b: make(2) };
}

describe('demo statistics', () => {
  it('meanStd is the mean and the n−1 standard deviation', () => {
    const r = meanStd([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(r.mean).toBe(5);
    // Σ(x−5)² = 32, /7
    expect(r.std).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(meanStd([3])).toEqual({ mean: 3, std: 0, n: 1 });
    expect(Number.isNaN(meanStd([]).mean)).toBe(true);
  });

  it('formatMeanStd scales, rounds and omits ± for one value', () => {
    expect(formatMeanStd([0.5, 0.7])).toBe('60.0 ± 14.1');
    expect(formatMeanStd([0.25])).toBe('25.0');
    expect(formatMeanStd([1.5, 2.5], { scale: 1, digits: 2 })).toBe('2.00 ± 0.71');
    expect(formatMeanStd([])).toBe('–');
    expect(formatMeanStd([-1e-17])).toBe('0.0');
  });

  it('tFactor95 is t(0.975, n−1)/√n', () => {
    // t(0.975, 2) = 4.303 (tables).
    expect(tFactor95(3)).toBeCloseTo(4.303 / Math.sqrt(3), 6);
    expect(tFactor95(2)).toBeCloseTo(12.706 / Math.sqrt(2), 6);
    // t(0.975, 29) = 2.045 (tables); the approximation is within 0.002.
    expect(tFactor95(30) * Math.sqrt(30)).toBeCloseTo(2.045, 2);
    expect(Number.isNaN(tFactor95(1))).toBe(true);
  });
});

describe('demo metrics', () => {
  it('squaredDistanceSums sums over masked positions only', () => {
    const hp = tf.tensor3d([
      [
        [1, 2],
        [3, 4],
      ],
    ]);
    const hr = tf.tensor3d([
      [
        [1, 1],
        [1, 1],
      ],
    ]);
    // Position 0: ‖(0, 1)‖² = 1, ‖hr‖² = 2; position 1: ‖(2, 3)‖² = 13, ‖hr‖² = 2.
    expect(squaredDistanceSums(hp, hr, tf.tensor2d([[1, 0]]))).toEqual({ distance: 1, reference: 2 });
    expect(squaredDistanceSums(hp, hr, tf.tensor2d([[1, 1]]))).toEqual({ distance: 14, reference: 4 });
    tf.dispose([hp, hr]);
  });

  it('tokenKl matches a hand-computed KL', () => {
    // Position 0: p = (½, ½), q = (¼, ¾): ½ ln 2 + ½ ln(2/3) = ½ ln(4/3) = 0.1438410.
    // Position 1: p = (¾, ¼), q = (½, ½): ¾ ln(3/2) + ¼ ln(1/2) = 0.1308120.
    const p = tf.tensor3d([
      [
        [0, 0],
        [Math.log(3), 0],
      ],
    ]);
    const q = tf.tensor3d([
      [
        [0, Math.log(3)],
        [0, 0],
      ],
    ]);
    const both = tokenKl(p, q, tf.tensor2d([[1, 1]]));
    const second = tokenKl(p, q, tf.tensor2d([[0, 1]]));
    expect(both.dataSync()[0]).toBeCloseTo(0.2746531, 5);
    expect(second.dataSync()[0]).toBeCloseTo(0.130812, 5);
    tf.dispose([p, q, both, second]);
  });

  it('completionKl scores exactly the sampled tokens and the EOS of completions that stopped', () => {
    const { tok, a, b } = twoTinyModels();
    const prompts = [tok.encode('rev:12=', { addBos: true }), tok.encode('inc:345=', { addBos: true })];
    // The first completion stopped (shorter than maxNewTokens: EOS is scored), the second was cut.
    const answers = [tok.encode('21'), tok.encode('456')];
    const maxNewTokens = 3;
    const before = tf.memory().numTensors;
    const kl = completionKl(
      a,
      b,
      prompts,
      answers,
      { padTokenId: tok.padId, eosTokenId: tok.eosId, maxNewTokens },
      1,
    );
    expect(tf.memory().numTensors).toBe(before);
    // By hand: per sequence, KL of the two models' next-token distributions at each position that
    // predicts a completion token (plain JS, one sequence at a time, no padding).
    const seqKl = (prompt: number[], completion: number[]): number => {
      const ids = [...prompt, ...completion];
      const [la, lb] = [a, b].map((m) => {
        const { logits, hidden } = m.forward(tf.tensor2d([ids], [1, ids.length], 'int32'));
        const out = logits.arraySync()[0] as number[][];
        tf.dispose([logits, hidden]);
        return out;
      });
      let total = 0;
      for (let t = prompt.length - 1; t < ids.length - 1; t++) {
        const lsm = (z: number[]) => {
          const m = Math.max(...z);
          const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
          return z.map((v) => v - lse);
        };
        const lp = lsm(la?.[t] as number[]);
        const lq = lsm(lb?.[t] as number[]);
        total += lp.reduce((s, v, k) => s + Math.exp(v) * (v - (lq[k] as number)), 0);
      }
      return total;
    };
    const expected =
      (seqKl(prompts[0] as number[], [...(answers[0] as number[]), tok.eosId]) +
        seqKl(prompts[1] as number[], answers[1] as number[])) /
      2;
    expect(kl).toBeCloseTo(expected, 4);
    expect(kl).toBeGreaterThan(0);
    // Batched (with padding) gives the same value.
    expect(
      completionKl(a, b, prompts, answers, { padTokenId: tok.padId, eosTokenId: tok.eosId, maxNewTokens }),
    ).toBeCloseTo(kl, 4);
    a.dispose();
    b.dispose();
  });

  it('latentDrift is the ratio of summed squared distances over real tokens, 0 for the same model', () => {
    const { tok, a, b } = twoTinyModels();
    const pairs = encodePairs(
      tok,
      makeTaskSplits({ seed: 1, trainSize: 3, testSize: 1, shiftedSize: 1 }).train,
    );
    const collate = { padTokenId: tok.padId, eosTokenId: tok.eosId, maxLength: 32 };
    expect(latentDrift(a, a, pairs, collate)).toBe(0);
    // By hand: every sequence alone (no padding), sums accumulated in JS.
    let num = 0;
    let den = 0;
    for (const p of pairs) {
      for (const resp of [p.chosen, p.rejected]) {
        const ids = [...p.prompt, ...resp, tok.eosId];
        const [ha, hb] = [a, b].map((m) => {
          const { logits, hidden } = m.forward(tf.tensor2d([ids], [1, ids.length], 'int32'));
          const out = (hidden.arraySync()[0] as number[][]).flat();
          tf.dispose([logits, hidden]);
          return out;
        });
        ha?.forEach((v, i) => {
          num += (v - (hb?.[i] as number)) ** 2;
          den += (hb?.[i] as number) ** 2;
        });
      }
    }
    expect(latentDrift(a, b, pairs, collate, 2)).toBeCloseTo(num / den, 5);
    a.dispose();
    b.dispose();
  });
});

describe('demo arguments', () => {
  it('parses every option', () => {
    const a = parseDemoArgs([
      '--full',
      '--objective',
      'simpo',
      '--backend',
      'cpu',
      '--seeds',
      '4,5',
      '--steps',
      '7',
      '--sft-steps',
      '9',
      '--families',
      'base,default',
      '--lambdas',
      '0.1,1',
      '--noise',
      '0,0.4',
      '--temps',
      '1.5',
      '--out',
      'x',
      '--sft-cache',
      'c',
    ]);
    expect(a).toEqual({
      mode: 'full',
      objective: 'simpo',
      backend: 'cpu',
      seeds: [4, 5],
      steps: 7,
      sftSteps: 9,
      families: ['base', 'default'],
      lambdas: [0.1, 1],
      noise: [0, 0.4],
      temperatures: [1.5],
      out: 'x',
      sftCache: 'c',
      help: false,
    });
    expect(parseDemoArgs(['--from-json', 'a.json,b.json']).fromJson).toEqual(['a.json', 'b.json']);
  });

  it('writes the default run to results/, --full to results/full/ and --quick to the temporary folder', () => {
    expect(parseDemoArgs([])).toEqual({ mode: 'default', out: 'results', help: false });
    expect(parseDemoArgs(['--full']).out).toBe('results/full');
    const quick = parseDemoArgs(['--quick']);
    expect(quick.mode).toBe('quick');
    expect(quick.out.startsWith(tmpdir())).toBe(true);
    expect(quick.out.startsWith('results')).toBe(false);
    expect(parseDemoArgs(['--quick', '--out', 'y']).out).toBe('y');
  });

  it('rejects bad values and unknown options', () => {
    expect(() => parseDemoArgs(['--steps', '0'])).toThrow(/--steps expects a positive integer/);
    expect(() => parseDemoArgs(['--steps'])).toThrow(/expects a value/);
    expect(() => parseDemoArgs(['--noise', '0,1.2'])).toThrow(/--noise expects numbers in \[0, 1\]/);
    expect(() => parseDemoArgs(['--seeds', '1,x'])).toThrow(/--seeds expects integers/);
    expect(() => parseDemoArgs(['--families', 'base,dpo'])).toThrow(
      /--families expects a subset of base,official,default/,
    );
    expect(() => parseDemoArgs(['--objective', 'orpo'])).toThrow(/--objective expects dpo or simpo/);
    expect(() => parseDemoArgs(['--quick', '--full'])).toThrow(/--quick and --full exclude each other/);
    expect(() => parseDemoArgs(['--fast'])).toThrow(/unknown option --fast/);
  });

  it('the default run compares base, official and default GANPO; --full adds the λ sweep and label noise', () => {
    const q = demoConfig('quick');
    const d = demoConfig('default');
    const f = demoConfig('full');
    expect(q.seeds).toHaveLength(1);
    expect(d.seeds).toEqual([1, 2, 3]);
    expect(f.seeds).toEqual([1, 2, 3]);
    expect(q.steps).toBeLessThan(d.steps);
    expect(q.sftSteps).toBeLessThan(d.sftSteps);
    expect(d.noiseLevels).toEqual([0]);
    expect(f.noiseLevels).toEqual([0, 0.2, 0.4]);
    expect(f.temperatures).toEqual([0.7, 1.0, 1.5]);
    expect(d.temperatures).toEqual([0.7, 1.0, 1.5]);
    expect(d.methods.map((m) => m.family)).toEqual(['base', 'official', 'default']);
    expect(d.methods[0]?.regularizer).toBe(false);
    const sweep = f.methods.filter((m) => m.family === 'default').map((m) => m.lambda);
    expect(sweep).toEqual([0.03, 0.1, 0.3, 1]);
    expect(f.methods.filter((m) => m.family === 'official').map((m) => m.lambda)).toEqual(sweep);
    for (const m of f.methods) if (m.regularizer) expect(m.regularizer.weight).toBe(m.lambda);
    expect(f.shiftedDigits[0]).toBeGreaterThan(f.trainDigits[1]);
    expect(demoConfig('default', 'simpo').methods[0]?.name).toBe('SimPO');
  });
});

describe('demo progress bar', () => {
  it('prints the first step and one line per tenth of the work off a terminal, with loss, accuracy and steps/s', () => {
    const lines: string[] = [];
    const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
    const bar = new ProgressBar('run', 40, stream);
    for (let i = 1; i <= 40; i++) bar.update(i, { loss: 0.5, accuracy: 0.75 });
    // The first step (so a slow start is visible), then one line per tenth.
    expect(lines).toHaveLength(11);
    expect(lines.at(-1)).toMatch(/^run \[#{20}\] 40\/40 {2}loss 0\.500 {2}acc 75% {2}[0-9.]+ steps\/s\n$/);
  });
});

interface Fake {
  win: number;
  acc: number;
  drift: number;
  kl: number;
  critic?: number;
  criticAccuracy?: number;
}

function fakeRun(method: string, noise: number, seed: number, f: Fake): RunResult {
  const by = (v: number) => ({
    heldout: { '0.7': v, '1.0': v, '1.5': v },
    shifted: { '0.7': v, '1.0': v, '1.5': v },
  });
  const g = { exact: 0, score: 0 };
  const m = studyMethods('dpo', { official: [1], default: [1] }, 7).find((x) => x.name === method);
  return {
    seed,
    method,
    family: m?.family ?? 'base',
    lambda: m?.lambda ?? 0,
    noise,
    preferenceAccuracy: { heldout: f.acc, shifted: f.acc },
    drift: { heldout: f.drift, shifted: f.drift },
    kl: { heldout: f.kl, shifted: f.kl },
    winRate: by(f.win),
    generation: {
      heldout: { '0.7': g, '1.0': g, '1.5': g },
      shifted: { '0.7': g, '1.0': g, '1.5': g },
    },
    final: {},
    tail:
      f.critic === undefined
        ? {}
        : {
            'ganpo/discriminator_loss_chosen': f.critic,
            'ganpo/discriminator_loss_rejected': f.critic,
            ...(f.criticAccuracy === undefined
              ? {}
              : {
                  'ganpo/critic_accuracy_chosen': f.criticAccuracy,
                  'ganpo/critic_accuracy_rejected': f.criticAccuracy,
                }),
          },
    skippedSteps: 0,
    trainSeconds: 1,
    seconds: 1,
  };
}

const sftGen = {
  heldout: {
    '0.7': { exact: 0.2, score: 0.6 },
    '1.0': { exact: 0.1, score: 0.5 },
    '1.5': { exact: 0, score: 0.4 },
  },
  shifted: {
    '0.7': { exact: 0, score: 0.3 },
    '1.0': { exact: 0, score: 0.3 },
    '1.5': { exact: 0, score: 0.2 },
  },
};

function fakeResults(): DemoResults {
  const config: DemoConfig = { ...demoConfig('default'), seeds: [1, 2], noiseLevels: [0, 0.4] };
  const runs: RunResult[] = [];
  for (const noise of [0, 0.4]) {
    runs.push(
      fakeRun('DPO', noise, 1, { win: 0.6, acc: 0.8, drift: 0.02, kl: 0.1 }),
      fakeRun('DPO', noise, 2, { win: 0.5, acc: 0.9, drift: 0.04, kl: 0.3 }),
      fakeRun('official λ=1', noise, 1, {
        win: 0.5,
        acc: 0.8,
        drift: 0.05,
        kl: 0.2,
        critic: 0.69,
        criticAccuracy: 0.5,
      }),
      fakeRun('official λ=1', noise, 2, {
        win: 0.5,
        acc: 0.9,
        drift: 0.12,
        kl: 0.4,
        critic: 0.69,
        criticAccuracy: 0.6,
      }),
      fakeRun('default λ=1', noise, 1, { win: 0.7, acc: 0.7, drift: 0.01, kl: 0.05, critic: 0.6 }),
      fakeRun('default λ=1', noise, 2, { win: 0.7, acc: 0.9, drift: 0.012, kl: 0.1, critic: 0.5 }),
    );
  }
  return {
    config,
    backend: 'cpu',
    sft: [1, 2].map((seed) => ({ seed, finalLoss: 1, seconds: 1, generation: sftGen })),
    runs,
    wallSeconds: 90,
  };
}

describe('demo report', () => {
  it('tabulates drift, KL, accuracy, win rate and critic loss per method (mean ± std over seeds)', () => {
    const md = resultsMarkdown(fakeResults(), 'npm run demo');
    expect(md).toContain('Command: `npm run demo` — backend cpu, seeds 1, 2');
    expect(md).toContain('wall time 1.5 min');
    expect(md).toContain('mean ± sample standard deviation over the 2 seeds');
    expect(md).toContain('95 % t-interval is mean ± 8.98 × std for n = 2');
    // DPO at 0 %: drift .02/.04, KL .1/.3, acc 80/90, win 60/50; no critic.
    expect(md).toContain(
      '| DPO | 0 % | 0.0300 ± 0.0141 | 0.0300 ± 0.0141 | 0.200 ± 0.141 | 0.200 ± 0.141 | 85.0 ± 7.1 | 85.0 ± 7.1 | 55.0 ± 7.1 | 55.0 ± 7.1 | – | – |',
    );
    // Critic loss: mean of both critics, .6 and .5 over seeds; no accuracy recorded for these runs.
    expect(md).toMatch(/\| default λ=1 \| 0 % \|.*\| 0\.550 ± 0\.071 \| – \|/);
    // Critic accuracy 50 % and 60 % of pairs.
    expect(md).toMatch(/\| official λ=1 \| 0 % \|.*\| 0\.690 ± 0\.000 \| 55\.0 ± 7\.1 \|/);
    expect(md).toContain('| held-out | 20.0 ± 0.0 % / 0.600 ± 0.000 | 10.0 ± 0.0 % / 0.500 ± 0.000 |');
  });

  it('pairs every GANPO run with the base run of its seed: drift ratios and differences', () => {
    const md = resultsMarkdown(fakeResults(), 'npm run demo');
    // Drift ratios .01/.02 = .5 and .012/.04 = .3; Δ KL −.05, −.2; Δ acc −10, 0; Δ win +10, +20.
    expect(md).toContain(
      '| default λ=1 vs DPO | 0 % | 0.40 ± 0.14 | 0.40 ± 0.14 | -0.125 ± 0.106 | -5.0 ± 7.1 | -5.0 ± 7.1 | 15.0 ± 7.1 | 15.0 ± 7.1 | 15.0 ± 7.1 | 15.0 ± 7.1 | 15.0 ± 7.1 | 15.0 ± 7.1 |',
    );
    // Default against official at the same λ: drift ratios .01/.05 = .2 and .012/.12 = .1; Δ KL −.15, −.3.
    expect(md).toContain(
      '| default λ=1 vs official λ=1 | 40 % | 0.15 ± 0.07 | 0.15 ± 0.07 | -0.225 ± 0.106 | -5.0 ± 7.1 |',
    );
  });

  it('leaves out method and noise combinations that a merged study did not run', () => {
    const r = fakeResults();
    r.runs = r.runs.filter((x) => !(x.method === 'official λ=1' && x.noise === 0.4));
    const md = resultsMarkdown(r, 'npm run demo');
    expect(md).not.toContain('| official λ=1 | 40 % |');
    expect(md).not.toContain('| official λ=1 vs DPO | 40 % |');
    expect(md).not.toContain('| default λ=1 vs official λ=1 | 40 % |');
    expect(md).toContain('| official λ=1 vs DPO | 0 % |');
    expect(md).toContain('| default λ=1 vs DPO | 40 % |');
  });

  it('plots quality against drift paired with λ = 0: one series per GANPO configuration starting at (1, 0)', () => {
    const svg = resultsSvg(fakeResults());
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    // Panels: held-out win, shifted win, accuracy (clean) + held-out win at 40 %; 2 series of 2 points each.
    expect(svg.match(/<polyline /g)).toHaveLength(4 * 2);
    // Points plus one legend marker per series.
    expect(svg.match(/<circle /g)).toHaveLength(4 * 2 * 2 + 2);
    expect(svg).toContain('official GANPO');
    expect(svg).toContain('held-out drift / drift of DPO (same seed)');
    const [, w, h] = /viewBox="0 0 (\d+) (\d+)"/.exec(svg) as RegExpExecArray;
    for (const m of svg.matchAll(/cx="([-0-9.]+)" cy="([-0-9.]+)"/g)) {
      expect(Number(m[1])).toBeGreaterThan(0);
      expect(Number(m[1])).toBeLessThan(Number(w));
      expect(Number(m[2])).toBeGreaterThan(0);
      expect(Number(m[2])).toBeLessThan(Number(h));
    }
    // Win rate by noise and by temperature: 3 panels × 3 methods.
    expect(conditionsSvg(fakeResults()).match(/<polyline /g)).toHaveLength(9);
  });

  it('scatter axes are round and cover every point with its error bar', () => {
    expect(niceStep(1)).toBe(0.2);
    expect(niceStep(0.07)).toBeCloseTo(0.01, 12);
    expect(niceStep(30)).toBe(5);
    const [lo, hi, step] = axisRange([0.012, 0.081]);
    expect(step).toBeCloseTo(0.01, 12);
    expect(lo).toBeCloseTo(0.01, 12);
    expect(hi).toBeCloseTo(0.09, 12);
    const svg = renderScatter([
      {
        title: 't',
        xLabel: 'x',
        yLabel: 'y',
        series: [
          {
            name: 's',
            points: [
              { x: 0, y: 0 },
              { x: 1, y: 1, label: 'λ=1' },
            ],
          },
        ],
      },
    ]);
    // x: 0 at the left edge (62), 1 at the right (380 − 16); y: 0 at the bottom (300 − 52), 1 at the top (56).
    expect(
      [...svg.matchAll(/<circle cx="([-0-9.]+)" cy="([-0-9.]+)" r="3.5" fill="#555555"><title>/g)].map(
        (m) => [Number(m[1]), Number(m[2])],
      ),
    ).toEqual([
      [62, 248],
      [364, 56],
    ]);
    expect(svg).toContain('>λ=1</text>');
  });

  it('draws the win-rate line chart with values mapped linearly and text escaped', () => {
    const svg = renderChart([
      {
        title: 'a<b',
        xLabel: 'x',
        yLabel: 'y',
        xTicks: ['p', 'q'],
        series: [{ name: 'S&P', mean: [0, 1] }],
      },
    ]);
    expect(svg).toContain('a&lt;b');
    expect(svg).toContain('S&amp;P');
    const ys = [...svg.matchAll(/cy="([-0-9.]+)"/g)].map((m) => Number(m[1]));
    // y = 0 at the bottom of the plot area (300 − 52), y = 1 at its top (56).
    expect(ys).toEqual([248, 56]);
  });

  it('fits the line chart y range to the data (mean ± std and the reference line), rounded out to tenths', () => {
    const svg = renderChart([
      {
        title: 't',
        xLabel: 'x',
        yLabel: 'y',
        xTicks: ['p', 'q'],
        series: [{ name: 's', mean: [0.42, 0.55], std: [0.01, 0.1] }],
        reference: 0.5,
      },
    ]);
    const ticks = [...svg.matchAll(/text-anchor="end">([0-9.]+)</g)].map((m) => m[1]);
    // Range 0.3 → gridlines every 0.05.
    expect(ticks).toEqual(['0.40', '0.45', '0.50', '0.55', '0.60', '0.65', '0.70']);
  });
});

describe('demo merge', () => {
  const part = (seed: number, loss = 1): SavedResults => {
    const r = fakeResults();
    return {
      ...r,
      command: `part ${seed}`,
      config: { ...r.config, seeds: [seed] },
      sft: [{ seed, finalLoss: loss, seconds: 1, generation: sftGen }],
      runs: r.runs.filter((x) => x.seed === seed),
      wallSeconds: 60,
    };
  };

  it('joins parts of one study: seeds, runs and wall times', () => {
    const m = mergeResults([part(2), part(1)]);
    expect(m.config.seeds).toEqual([1, 2]);
    expect(m.runs).toHaveLength(12);
    expect(m.sft.map((s) => s.seed)).toEqual([1, 2]);
    expect(m.wallSeconds).toBe(120);
    expect(m.parts?.map((p) => p.command)).toEqual(['part 2', 'part 1']);
    expect(m.config.methods.map((x) => x.name)).toEqual(['DPO', 'official λ=1', 'default λ=1']);
    // A run present in two parts with identical results is kept once.
    expect(mergeResults([part(1), part(1)]).runs).toHaveLength(6);
  });

  it('refuses parts that do not share settings, SFT starts or results', () => {
    const other = part(1);
    other.config = { ...other.config, steps: 3 };
    expect(() => mergeResults([part(1), other])).toThrow(/parts differ in steps/);
    expect(() => mergeResults([part(1), part(1, 2)])).toThrow(/SFT start of seed 1 differs/);
    const changed = part(1);
    changed.runs = changed.runs.map((r) => ({ ...r, drift: { heldout: 9, shifted: 9 } }));
    expect(() => mergeResults([part(1), changed])).toThrow(/appears twice with different results/);
  });
});

describe('demo experiment (miniature)', () => {
  it('runs every method and noise level end to end, leaking no tensors', async () => {
    const config: DemoConfig = {
      ...demoConfig('quick'),
      seeds: [3],
      sftSteps: 2,
      steps: 2,
      batchSize: 4,
      trainSize: 16,
      evalSize: 4,
      noiseLevels: [0, 0.5],
      temperatures: [1.0],
      model: { dim: 16, numLayers: 1, numHeads: 2, maxSeqLen: 32 },
    };
    const before = tf.memory().numTensors;
    const res = await runExperiment(config);
    expect(tf.memory().numTensors).toBe(before);
    expect(res.runs).toHaveLength(2 * 3);
    for (const r of res.runs) {
      for (const v of [r.drift.heldout, r.drift.shifted, r.kl.heldout, r.kl.shifted]) {
        expect(Number.isFinite(v)).toBe(true);
        expect(v).toBeGreaterThan(-1e-6);
      }
      // Two steps at the peak of a short warm-up do move the policy.
      expect(r.drift.heldout).toBeGreaterThan(0);
      expect(r.skippedSteps).toBe(0);
      expect(r.final.step).toBe(2);
      for (const v of [r.winRate.heldout['1.0'], r.winRate.shifted['1.0'], r.preferenceAccuracy.heldout]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
      if (r.family !== 'base') expect(Number.isFinite(r.final['ganpo/divergence'])).toBe(true);
      else expect(r.final['ganpo/divergence']).toBeUndefined();
    }
    expect(res.sft).toHaveLength(1);
  });
});

describe('demo SFT cache', () => {
  it('a second process reusing the saved SFT model gets exactly the same runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ganpo-sft-cache-'));
    const config: DemoConfig = {
      ...demoConfig('quick'),
      seeds: [4],
      sftSteps: 3,
      steps: 2,
      batchSize: 4,
      trainSize: 16,
      evalSize: 4,
      noiseLevels: [0],
      temperatures: [1.0],
      model: { dim: 16, numLayers: 1, numHeads: 2, maxSeqLen: 32 },
    };
    config.methods = config.methods.filter((m) => m.family === 'base');
    try {
      const first = await runExperiment(config, () => {}, { sftCache: dir });
      expect(readdirSync(dir)).toHaveLength(1);
      const second = await runExperiment(config, () => {}, { sftCache: dir });
      const strip = (r: DemoResults) => r.runs.map((x) => ({ ...x, seconds: 0, trainSeconds: 0 }));
      expect(strip(second)).toEqual(strip(first));
      expect(second.sft[0]?.finalLoss).toBe(first.sft[0]?.finalLoss);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
