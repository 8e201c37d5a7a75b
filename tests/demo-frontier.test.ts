import { describe, expect, it } from 'vitest';
import { parseDemoArgs } from '../examples/demo/args';
import { type DemoResults, demoConfig, type RunResult } from '../examples/demo/experiment';
import { frontierGaps, interpolateAt } from '../examples/demo/frontier';
import { FRONTIER_SWEEPS, FROZEN_CRITIC_RATIO, frontierMethods } from '../examples/demo/frontier-methods';
import { FRONTIER_BASE, frontierMarkdown, frontierSvg } from '../examples/demo/frontier-report';

describe('frontier interpolation', () => {
  it('reads the piecewise-linear curve between the bracketing points, in any input order', () => {
    const pts = [
      { x: 3, y: 20 },
      { x: 1, y: 10 },
      { x: 2, y: 12 },
    ];
    // Between (2, 12) and (3, 20): 12 + 0.5 · 8.
    expect(interpolateAt(pts, 2.5)).toBeCloseTo(16, 12);
    // Between (1, 10) and (2, 12): 10 + 0.25 · 2.
    expect(interpolateAt(pts, 1.25)).toBeCloseTo(10.5, 12);
    expect(interpolateAt(pts, 1)).toBe(10);
    expect(interpolateAt(pts, 3)).toBe(20);
  });

  it('does not extrapolate, averages points of equal x and ignores non-finite points', () => {
    const pts = [
      { x: 1, y: 10 },
      { x: 1, y: 14 },
      { x: 2, y: 20 },
      { x: Number.NaN, y: 0 },
    ];
    expect(interpolateAt(pts, 0.5)).toBeNaN();
    expect(interpolateAt(pts, 2.5)).toBeNaN();
    expect(interpolateAt(pts, Number.NaN)).toBeNaN();
    expect(interpolateAt([], 1)).toBeNaN();
    // (1, 12) after averaging; halfway to (2, 20).
    expect(interpolateAt(pts, 1)).toBe(12);
    expect(interpolateAt(pts, 1.5)).toBeCloseTo(16, 12);
  });
});

const methods = frontierMethods(
  { ...FRONTIER_SWEEPS, dpo: [0.03, 0.1, 0.3], anchor: [0.01], mlp: [1], transformer: [], official: [] },
  7,
);

interface Fake {
  kl: number;
  drift: number;
  acc: number;
  win: number;
  critic?: number;
}

function run(method: string, seed: number, f: Fake): RunResult {
  const m = methods.find((x) => x.name === method);
  if (!m) throw new Error(`no recipe ${method}`);
  return {
    seed,
    method,
    family: m.family,
    lambda: m.lambda,
    noise: 0,
    preferenceAccuracy: { heldout: f.acc, shifted: f.acc },
    drift: { heldout: f.drift, shifted: f.drift },
    kl: { heldout: f.kl, shifted: f.kl },
    winRate: { heldout: { '1.0': f.win }, shifted: { '1.0': f.win } },
    generation: { heldout: {}, shifted: {} },
    final: {},
    tail:
      f.critic === undefined
        ? {}
        : { 'ganpo/discriminator_loss_chosen': f.critic, 'ganpo/discriminator_loss_rejected': f.critic },
    skippedSteps: 0,
    trainSeconds: 10,
    seconds: 12,
  };
}

/**
 * Two seeds. DPO's β sweep: seed 1 at KL 3 / 2 / 1 (drift .3 / .2 / .1), seed 2 at KL 4 / 3 / 2
 * (drift .4 / .3 / .2). The anchor sits inside both sweeps' ranges; the MLP run of seed 2 lies
 * below seed 2's KL and drift range.
 */
function fakeStudy(): DemoResults {
  const runs = [
    run('DPO β=0.03', 1, { kl: 3, drift: 0.3, acc: 0.9, win: 0.6 }),
    run('DPO β=0.1', 1, { kl: 2, drift: 0.2, acc: 0.8, win: 0.6 }),
    run('DPO β=0.3', 1, { kl: 1, drift: 0.1, acc: 0.6, win: 0.5 }),
    run('DPO β=0.03', 2, { kl: 4, drift: 0.4, acc: 0.9, win: 0.7 }),
    run('DPO β=0.1', 2, { kl: 3, drift: 0.3, acc: 0.9, win: 0.6 }),
    run('DPO β=0.3', 2, { kl: 2, drift: 0.2, acc: 0.7, win: 0.6 }),
    run('anchor λ=0.01', 1, { kl: 1.5, drift: 0.1, acc: 0.8, win: 0.6 }),
    run('anchor λ=0.01', 2, { kl: 2.5, drift: 0.3, acc: 0.9, win: 0.6 }),
    run('MLP λ=1', 1, { kl: 1.5, drift: 0.15, acc: 0.75, win: 0.55, critic: 0.69 }),
    run('MLP λ=1', 2, { kl: 1.5, drift: 0.15, acc: 0.8, win: 0.6, critic: 0.67 }),
    run('MLP frozen λ=1', 1, { kl: 2, drift: 0.3, acc: 0.8, win: 0.6, critic: 0.7 }),
    run('MLP frozen λ=1', 2, { kl: 2, drift: 0.25, acc: 0.8, win: 0.5, critic: 0.7 }),
  ];
  const config = { ...demoConfig('frontier'), seeds: [1, 2], methods };
  return { config, backend: 'cpu', sft: [], runs, wallSeconds: 600 };
}

describe('frontier gaps', () => {
  it("subtracts DPO's β curve of the same seed at the run's KL or drift", () => {
    const res = fakeStudy();
    const acc = (r: RunResult) => r.preferenceAccuracy.heldout;
    // Seed 1: DPO at KL 1.5 = .6 + .5·(.8 − .6) = .7, anchor .8 → +.1. Seed 2: at KL 2.5 = .7 + .5·.2 = .8 → +.1.
    const byKl = frontierGaps(res.runs, 'anchor λ=0.01', { x: (r) => r.kl.heldout, y: acc });
    expect(byKl.map((g) => g.seed)).toEqual([1, 2]);
    expect(byKl[0]?.gap).toBeCloseTo(0.1, 12);
    expect(byKl[1]?.gap).toBeCloseTo(0.1, 12);
    // At equal drift: seed 1 drift .1 is DPO β=0.3 itself (.6) → +.2; seed 2 drift .3 = β=0.1 (.9) → 0.
    const byDrift = frontierGaps(res.runs, 'anchor λ=0.01', { x: (r) => r.drift.heldout, y: acc });
    expect(byDrift[0]?.gap).toBeCloseTo(0.2, 12);
    expect(byDrift[1]?.gap).toBeCloseTo(0, 12);
    // MLP, seed 2: KL 1.5 is below that seed's sweep (2–4): no extrapolation.
    const mlp = frontierGaps(res.runs, 'MLP λ=1', { x: (r) => r.kl.heldout, y: acc });
    expect(mlp[0]?.gap).toBeCloseTo(0.05, 12);
    expect(mlp[1]?.gap).toBeNaN();
  });
});

describe('frontier report', () => {
  const md = frontierMarkdown(fakeStudy(), 'npm run demo -- --frontier');

  it('tabulates every recipe in frontier order (β, then λ), mean ± std over seeds', () => {
    const rows = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| recipe'));
    expect(rows[0]?.startsWith('| DPO β=0.03 |')).toBe(true);
    // DPO β=0.1: drift .2/.3, KL 2/3, acc 80/90, win 60/60.
    expect(md).toContain(
      '| DPO β=0.1 | 0.2500 ± 0.0707 | 2.50 ± 0.71 | 85.0 ± 7.1 | 60.0 ± 0.0 | 0.2500 ± 0.0707 | 85.0 ± 7.1 | 60.0 ± 0.0 | – | – | 10 |',
    );
    expect(md).toMatch(/\| MLP λ=1 \|.*\| 0\.680 ± 0\.014 \| – \| 10 \|/);
  });

  it(`pairs each recipe with ${FRONTIER_BASE} of its seed`, () => {
    // Anchor: drift ratios .1/.2 = .5 and .3/.3 = 1; Δ KL −.5, −.5; Δ acc 0, 0; Δ win 0, 0.
    expect(md).toContain(
      '| anchor λ=0.01 | 0.75 ± 0.35 | 0.75 ± 0.35 | -0.500 ± 0.000 | 0.0 ± 0.0 | 0.0 ± 0.0 | 0.0 ± 0.0 | 0.0 ± 0.0 |',
    );
    expect(md).not.toContain(`| ${FRONTIER_BASE} | 1.00`);
  });

  it("reads every regularized recipe against DPO's β frontier at equal KL and drift", () => {
    // Anchor: acc +10/+10 at equal KL; win at KL: seed 1 DPO at 1.5 = .55 → +5, seed 2 at 2.5 = .6 → 0;
    // acc at equal drift +20 / 0; win at drift: seed 1 .5 → +10, seed 2 .6 → 0.
    // KL at equal drift: seed 1 drift .1 = β=0.3 (KL 1), anchor 1.5 → +.5; seed 2 drift .3 = β=0.1 (KL 3), 2.5 → −.5.
    expect(md).toContain(
      '| anchor λ=0.01 | 10.0 ± 0.0 | 2.5 ± 3.5 | 10.0 ± 14.1 | 5.0 ± 7.1 | 0.00 ± 0.71 |',
    );
    // MLP: seed 2 outside the KL range (1 of 2 seeds); at equal drift seed 1 .15 → DPO acc .7 → +5,
    // seed 2 below the drift range.
    // KL at drift .15 on seed 1: DPO 1.5, MLP 1.5 → 0.
    expect(md).toContain('| MLP λ=1 | 5.0 (1/2) | 0.0 (1/2) | 5.0 (1/2) | 0.0 (1/2) | 0.00 (1/2) |');
  });

  it('sums each recipe up in one line: paired against DPO β 0.1 and against the β frontier', () => {
    // Anchor: drift .1/.3 → .2 ± .14; ratio .75 ± .35; Δ KL −.5; Δ acc 0; Δ win 0; gaps as below.
    expect(md).toContain(
      '| anchor λ=0.01 | 0.200 ± 0.141 | 0.75 ± 0.35 | -0.50 ± 0.00 | 0.0 ± 0.0 | 0.0 ± 0.0 | 10.0 ± 0.0 | 2.5 ± 3.5 | 0.00 ± 0.71 |',
    );
    expect(md).toContain('| DPO β=0.1 | 0.250 ± 0.071 | 1 | 0 | 0 | 0 | – | – | – |');
  });

  it("compares the learning critics with the same recipe's frozen ones, paired by seed", () => {
    // Drift .15/.3 = .5 and .15/.25 = .6; Δ KL −.5 both; Δ acc −5, 0; Δ win −5, +10.
    expect(md).toContain(
      '| MLP λ=1 vs MLP frozen λ=1 | 0.55 ± 0.07 | 0.55 ± 0.07 | -0.500 ± 0.000 | -2.5 ± 3.5 | -2.5 ± 3.5 | 2.5 ± 10.6 | 2.5 ± 10.6 |',
    );
  });

  it('plots accuracy and win rate against log drift and KL: one series per frontier', () => {
    const svg = frontierSvg(fakeStudy());
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    // 4 panels; series dpo (3 points), anchor, MLP, MLP frozen (1 point each): one polyline per panel.
    expect(svg.match(/<polyline /g)).toHaveLength(4);
    expect(svg.match(/<circle /g)).toHaveLength(4 * 6 + 4);
    expect(svg).toContain('log₁₀ latent drift');
    expect(svg).toContain('>β=0.3<');
  });
});

describe('frontier recipes and options', () => {
  it('sweeps β for DPO alone and λ for each regularizer, critics frozen by a vanishing learning rate', () => {
    const c = demoConfig('frontier');
    const d = demoConfig('default');
    expect(c.steps).toBe(d.steps);
    expect(c.seeds).toEqual([1, 2, 3]);
    expect(c.noiseLevels).toEqual([0]);
    expect(c.temperatures).toEqual([1]);
    const dpo = c.methods.filter((m) => m.family === 'dpo');
    expect(dpo.map((m) => (m.objective as { beta: number }).beta)).toEqual([...FRONTIER_SWEEPS.dpo]);
    expect(dpo.some((m) => m.name === FRONTIER_BASE)).toBe(true);
    for (const m of c.methods.filter((x) => x.family !== 'dpo')) {
      expect(m.objective).toEqual({ kind: 'dpo', beta: 0.1 });
      expect(m.regularizer === false ? Number.NaN : m.regularizer.weight).toBe(m.lambda);
    }
    const frozen = c.methods.find((m) => m.name === 'transformer frozen λ=1')?.regularizer;
    expect(frozen).toMatchObject({
      criticLearningRateRatio: FROZEN_CRITIC_RATIO,
      critic: { kind: 'transformer' },
    });
    expect(c.methods.find((m) => m.name === 'anchor λ=0.01')?.regularizer).toEqual({
      kind: 'anchor',
      weight: 0.01,
    });
    expect(c.methods.find((m) => m.name === 'MMD λ=1')?.regularizer).toEqual({ kind: 'mmd', weight: 1 });
    // The paired-feature-matching rows pin the previous default; the variant rows name theirs.
    expect(c.methods.find((m) => m.name === 'MLP λ=1')?.regularizer).toMatchObject({
      generator: 'paired-feature-matching',
      targetDecay: 0,
      critic: { kind: 'mlp' },
    });
    expect(
      c.methods.find((m) => m.name === 'transformer relative-FM target 0.99 λ=3')?.regularizer,
    ).toMatchObject({
      generator: 'relative-feature-matching',
      targetDecay: 0.99,
      critic: { kind: 'transformer' },
      weight: 3,
    });
    expect(new Set(c.methods.map((m) => m.name)).size).toBe(c.methods.length);
  });

  it('parses --frontier with its own families and output folder', () => {
    const a = parseDemoArgs(['--frontier', '--seeds', '2', '--families', 'dpo,mlp-frozen']);
    expect(a).toMatchObject({
      mode: 'frontier',
      out: 'results/frontier',
      seeds: [2],
      families: ['dpo', 'mlp-frozen'],
    });
    expect(() => parseDemoArgs(['--frontier', '--families', 'base'])).toThrow(
      /--families expects a subset of dpo,/,
    );
    expect(() => parseDemoArgs(['--frontier', '--lambdas', '1'])).toThrow(/--frontier sets its own sweeps/);
    expect(parseDemoArgs(['--frontier', '--values', '10,30']).values).toEqual([10, 30]);
    expect(() => parseDemoArgs(['--values', '10'])).toThrow(/--values applies to --frontier only/);
    expect(() => parseDemoArgs(['--frontier', '--values', '0'])).toThrow(/--values expects numbers/);
    expect(() => parseDemoArgs(['--frontier', '--full'])).toThrow(/--frontier and --full exclude each other/);
  });
});
