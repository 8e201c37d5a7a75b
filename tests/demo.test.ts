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
import { ProgressBar } from '../examples/demo/progress';
import { resultsMarkdown, resultsSvg } from '../examples/demo/report';
import { formatMeanStd, meanStd } from '../examples/demo/stats';
import { renderChart } from '../examples/demo/svg';

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
});

describe('demo arguments', () => {
  it('parses every option', () => {
    const a = parseDemoArgs([
      '--quick',
      '--backend',
      'cpu',
      '--seeds',
      '4,5',
      '--steps',
      '7',
      '--sft-steps',
      '9',
      '--methods',
      'DPO,SimPO',
      '--noise',
      '0,0.4',
      '--temps',
      '1.5',
      '--out',
      'x',
    ]);
    expect(a).toEqual({
      quick: true,
      backend: 'cpu',
      seeds: [4, 5],
      steps: 7,
      sftSteps: 9,
      methods: ['DPO', 'SimPO'],
      noise: [0, 0.4],
      temperatures: [1.5],
      out: 'x',
      help: false,
    });
    expect(parseDemoArgs([])).toEqual({ quick: false, out: 'results', help: false });
  });

  it('rejects bad values and unknown options', () => {
    expect(() => parseDemoArgs(['--steps', '0'])).toThrow(/--steps expects a positive integer/);
    expect(() => parseDemoArgs(['--steps'])).toThrow(/expects a value/);
    expect(() => parseDemoArgs(['--noise', '0,1.2'])).toThrow(/--noise expects numbers in \[0, 1\]/);
    expect(() => parseDemoArgs(['--seeds', '1,x'])).toThrow(/--seeds expects integers/);
    expect(() => parseDemoArgs(['--fast'])).toThrow(/unknown option --fast/);
  });

  it('quick settings are a strict reduction of the full ones', () => {
    const q = demoConfig(true);
    const f = demoConfig(false);
    expect(q.seeds).toHaveLength(1);
    expect(f.seeds.length).toBeGreaterThan(1);
    expect(q.steps).toBeLessThan(f.steps);
    expect(q.sftSteps).toBeLessThan(f.sftSteps);
    expect(f.noiseLevels).toEqual([0, 0.2, 0.4]);
    expect(f.temperatures).toEqual([0.7, 1.0, 1.5]);
    expect(f.methods.map((m) => m.name)).toEqual(['DPO', 'DPO+GANPO', 'SimPO', 'SimPO+GANPO']);
    expect(f.shiftedDigits[0]).toBeGreaterThan(f.trainDigits[1]);
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

function fakeRun(method: string, noise: number, seed: number, win: number, acc: number): RunResult {
  const by = (v: number) => ({
    heldout: { '0.7': v, '1.0': v, '1.5': v },
    shifted: { '0.7': v, '1.0': v, '1.5': v },
  });
  const g = { exact: 0, score: 0 };
  return {
    seed,
    method,
    noise,
    preferenceAccuracy: { heldout: acc, shifted: acc },
    winRate: by(win),
    generation: {
      heldout: { '0.7': g, '1.0': g, '1.5': g },
      shifted: { '0.7': g, '1.0': g, '1.5': g },
    },
    final: {},
    skippedSteps: 0,
    seconds: 1,
  };
}

function fakeResults(): DemoResults {
  const config: DemoConfig = { ...demoConfig(false), seeds: [1, 2], noiseLevels: [0, 0.4] };
  config.methods = config.methods.filter((m) => m.name.startsWith('DPO'));
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
  return {
    config,
    backend: 'cpu',
    sft: [1, 2].map((seed) => ({ seed, finalLoss: 1, seconds: 1, generation: sftGen })),
    runs: [
      fakeRun('DPO', 0, 1, 0.6, 0.8),
      fakeRun('DPO', 0, 2, 0.5, 0.9),
      fakeRun('DPO+GANPO', 0, 1, 0.7, 0.7),
      fakeRun('DPO+GANPO', 0, 2, 0.7, 0.9),
      fakeRun('DPO', 0.4, 1, 0.4, 0.6),
      fakeRun('DPO', 0.4, 2, 0.4, 0.6),
      fakeRun('DPO+GANPO', 0.4, 1, 0.3, 0.5),
      fakeRun('DPO+GANPO', 0.4, 2, 0.5, 0.5),
    ],
    wallSeconds: 90,
  };
}

describe('demo report', () => {
  it('tabulates mean ± std per method and noise, and paired GANPO − base differences', () => {
    const md = resultsMarkdown(fakeResults(), 'npm run demo');
    expect(md).toContain('Command: `npm run demo` — backend cpu, seeds 1, 2');
    expect(md).toContain('wall time 1.5 min');
    // DPO at 0 %: acc 80/90 → 85.0 ± 7.1; win 60/50 → 55.0 ± 7.1.
    expect(md).toContain('| DPO | 0 % | 85.0 ± 7.1 | 85.0 ± 7.1 | 55.0 ± 7.1 |');
    // Paired differences at 0 %: acc −10, 0 → −5.0 ± 7.1; win +10, +20 → 15.0 ± 7.1.
    expect(md).toContain('| DPO+GANPO − DPO | 0 % | -5.0 ± 7.1 | -5.0 ± 7.1 | 15.0 ± 7.1 |');
    // At 40 %: win −10, +10 → 0.0 ± 14.1.
    expect(md).toContain('| DPO+GANPO − DPO | 40 % | -10.0 ± 0.0 | -10.0 ± 0.0 | 0.0 ± 14.1 |');
    expect(md).toContain('| held-out | 20.0 ± 0.0 % / 0.600 ± 0.000 | 10.0 ± 0.0 % / 0.500 ± 0.000 |');
  });

  it('draws one line and one point per value in each panel, inside the canvas', () => {
    const svg = resultsSvg(fakeResults());
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    // 3 panels × 2 methods.
    expect(svg.match(/<polyline /g)).toHaveLength(6);
    // Points: noise panel 2 + two temperature panels 3 + 3, per method.
    expect(svg.match(/<circle /g)).toHaveLength(2 * (2 + 3 + 3));
    const [, w, h] = /viewBox="0 0 (\d+) (\d+)"/.exec(svg) as RegExpExecArray;
    for (const m of svg.matchAll(/cx="([-0-9.]+)" cy="([-0-9.]+)"/g)) {
      expect(Number(m[1])).toBeGreaterThan(0);
      expect(Number(m[1])).toBeLessThan(Number(w));
      expect(Number(m[2])).toBeGreaterThan(0);
      expect(Number(m[2])).toBeLessThan(Number(h));
    }
  });

  it('maps values to heights linearly and escapes text', () => {
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

  it('fits the y range to the data (mean ± std and the reference line), rounded out to tenths', () => {
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

describe('demo experiment (miniature)', () => {
  it('runs every method and noise level end to end, leaking no tensors', async () => {
    const config: DemoConfig = {
      ...demoConfig(true),
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
    expect(res.runs).toHaveLength(2 * 4);
    for (const r of res.runs) {
      expect(r.skippedSteps).toBe(0);
      expect(r.final.step).toBe(2);
      for (const v of [r.winRate.heldout['1.0'], r.winRate.shifted['1.0'], r.preferenceAccuracy.heldout]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
      if (r.method.endsWith('GANPO')) expect(Number.isFinite(r.final['ganpo/divergence'])).toBe(true);
      else expect(r.final['ganpo/divergence']).toBeUndefined();
    }
    expect(res.sft).toHaveLength(1);
  });
});
