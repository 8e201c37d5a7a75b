// The report of the long-run stability study (tools/study/stability-study.ts): a summary table (per
// setting, each seed's largest drift ratio over the run, mean ± sample std over seeds), the
// drift-ratio curves as a table (mean over seeds, largest seed in brackets) and as one SVG per task.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { meanStd } from '../../examples/demo/stats';
import { type Panel, renderChart } from '../../examples/demo/svg';
import type { StabilityResults, StabilityRun } from './stability-study';

/** Every run of the parts, each (task, loop, lr, seed, arm, critic, latent, steps) once. */
export function mergeStability(parts: readonly StabilityResults[]): StabilityRun[] {
  const key = (r: StabilityRun) =>
    [r.task, r.loop, r.lr, r.seed, r.arm, r.critic, r.latent, r.steps.at(-1)].join('|');
  const seen = new Map<string, StabilityRun>();
  for (const raw of parts.flatMap((p) => p.runs)) {
    // Parts written before runs recorded their latent width ran the tasks' default widths.
    const r = { ...raw, latent: raw.latent ?? (raw.task === 'tinylm' ? 16 : 12) };
    if (!seen.has(key(r))) seen.set(key(r), r);
  }
  return [...seen.values()];
}

/** A run with its drift divided by the base run's (same setting and seed) at every evaluation. */
export type RatioCurve = StabilityRun & { ratio: number[] };

/** Per-run drift ratios against the base of the same setting and seed. */
export function ratioCurves(runs: readonly StabilityRun[]): RatioCurve[] {
  const same = (a: StabilityRun, b: StabilityRun) =>
    a.task === b.task &&
    a.loop === b.loop &&
    a.lr === b.lr &&
    a.seed === b.seed &&
    a.latent === b.latent &&
    a.steps.at(-1) === b.steps.at(-1);
  return runs
    .filter((r) => r.arm !== 'base')
    .map((r) => {
      const b = runs.find((x) => x.arm === 'base' && same(x, r));
      return { ...r, ratio: r.drift.map((d, i) => d / (b?.drift[i] ?? Number.NaN)) };
    });
}

/** The setting of a curve without its seed (one row of the tables). */
const settingKey = (c: RatioCurve) =>
  [c.task, c.latent, c.steps.at(-1), c.loop, c.critic, c.lr, c.arm].join('|');

function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return m;
}

const f2 = (x: number) => x.toFixed(2);
const bold = (x: number) => (x >= 1 ? `**${f2(x)}**` : f2(x));

/** Summary: each seed's largest ratio over the run; mean ± std over seeds, the largest, seeds ≥ 1. */
function summaryTable(curves: readonly RatioCurve[]): string[] {
  const lines = [
    '| task | latent | steps | loop | critic | policy lr | arm | seeds | max ratio per seed, mean ± sd | largest | seeds with a ratio ≥ 1 |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const cs of groupBy(curves, settingKey).values()) {
    const c = cs[0] as RatioCurve;
    const maxima = cs.map((x) => Math.max(...x.ratio));
    const { mean, std } = meanStd(maxima);
    lines.push(
      `| ${c.task} | ${c.latent} | ${c.steps.at(-1)} | ${c.loop} | ${c.critic} | ${c.lr} | ${c.arm} | ${cs.map((x) => x.seed).join(',')} | ${f2(mean)} ± ${f2(std)} | ${bold(Math.max(...maxima))} | ${maxima.filter((m) => m >= 1).length} / ${cs.length} |`,
    );
  }
  return lines;
}

/**
 * One row per (task, latent, steps, critic, lr), one column per (arm, loop): each seed's largest
 * ratio over the run, `mean ± sd [largest]` over seeds (n seeds).
 */
export function compactTable(curves: readonly RatioCurve[]): string[] {
  const columns = [...new Set(curves.map((c) => `${c.arm}|${c.loop}`))].sort();
  const name = (col: string) => {
    const [arm, loop] = col.split('|') as [keyof typeof ARM_NAMES, string];
    return `${ARM_NAMES[arm]}, ${loop === 'hand' ? 'hand loop' : 'GanpoTrainer'}`;
  };
  const lines = [
    `| task | latent | steps | critic | policy lr | ${columns.map(name).join(' | ')} |`,
    `|---|---|---|---|---|${columns.map(() => '---|').join('')}`,
  ];
  const rows = groupBy(curves, (c) => [c.task, c.latent, c.steps.at(-1), c.critic, c.lr].join('|'));
  for (const [key, cs] of rows) {
    const [task, latent, steps, critic, lr] = key.split('|');
    const cells = columns.map((col) => {
      const g = cs.filter((c) => `${c.arm}|${c.loop}` === col);
      if (g.length === 0) return '–';
      const maxima = g.map((c) => Math.max(...c.ratio));
      const { mean, std } = meanStd(maxima);
      return `${f2(mean)} ± ${f2(std)} [${bold(Math.max(...maxima))}] (${g.length})`;
    });
    lines.push(`| ${task} | ${latent} | ${steps} | ${critic} | ${lr} | ${cells.join(' | ')} |`);
  }
  return lines;
}

/** Curves: at every evaluation, the mean ratio over seeds (the largest in brackets). */
function curveTable(curves: readonly RatioCurve[]): string[] {
  const lines: string[] = [];
  for (const [shape, cs] of groupBy(curves, (c) => c.steps.join(','))) {
    const steps = shape.split(',');
    lines.push(
      '',
      `| task | latent | loop | critic | policy lr | arm | ${steps.map((s) => `step ${s}`).join(' | ')} |`,
      `|---|---|---|---|---|---|${steps.map(() => '---|').join('')}`,
    );
    for (const g of groupBy(cs, settingKey).values()) {
      const c = g[0] as RatioCurve;
      const cells = steps.map((_, i) => {
        const xs = g.map((x) => x.ratio[i] as number);
        return `${f2(meanStd(xs).mean)} (${f2(Math.max(...xs))})`;
      });
      lines.push(
        `| ${c.task} | ${c.latent} | ${c.loop} | ${c.critic} | ${c.lr} | ${c.arm} | ${cells.join(' | ')} |`,
      );
    }
  }
  return lines;
}

const ARM_NAMES = {
  default: 'default',
  legacy: 'previous default',
  'target-only': 'target critics only',
  'relative-only': 'relative distance only',
} as const;

/** One panel per (critic, lr) of a task: mean ± std over seeds of each arm × loop. */
function taskSvg(curves: readonly RatioCurve[], task: string): string {
  const mine = curves.filter((c) => c.task === task);
  const steps = mine[0]?.steps ?? [];
  const panels: Panel[] = [];
  const critics = [...new Set(mine.map((c) => c.critic))];
  const lrs = [...new Set(mine.map((c) => c.lr))].sort((a, b) => a - b);
  const top = Math.max(1.2, ...mine.flatMap((c) => c.ratio).filter(Number.isFinite));
  for (const critic of critics)
    for (const lr of lrs) {
      const series = (['default', 'legacy', 'target-only', 'relative-only'] as const).flatMap((arm) =>
        (['hand', 'trainer'] as const).flatMap((loop) => {
          // Every arm × loop of the task in every panel (NaN where absent): one colour per series.
          if (!mine.some((c) => c.arm === arm && c.loop === loop)) return [];
          const g = mine.filter(
            (c) => c.critic === critic && c.lr === lr && c.arm === arm && c.loop === loop,
          );
          const at = steps.map((_, i) => meanStd(g.map((c) => c.ratio[i] as number)));
          return [
            {
              name: `${ARM_NAMES[arm]}, ${loop === 'hand' ? 'hand-written loop' : 'GanpoTrainer'}`,
              mean: at.map((s) => s.mean),
              std: at.map((s) => s.std),
            },
          ];
        }),
      );
      panels.push({
        title: `${critic} critic, policy lr ${lr}`,
        xLabel: 'policy step',
        yLabel: 'drift / drift of DPO alone',
        xTicks: steps.map((s, i) => (i % 2 === 1 || steps.length <= 6 ? String(s) : '')),
        series,
        yRange: [0, Math.ceil(top * 5) / 5],
        reference: 1,
      });
    }
  return renderChart(panels, {
    title: `Long runs (${task}): held-out latent drift against DPO alone, mean ± std over seeds (dotted: 1)`,
  });
}

/** Writes stability.json, stability.md and one SVG per task into `dir`; prints the markdown. */
export function writeStabilityReport(parts: readonly StabilityResults[], dir: string): void {
  const runs = mergeStability(parts);
  const curves = ratioCurves(runs);
  const md = [
    '# Long-run stability: drift ratio against DPO alone',
    '',
    'Generated by `npm run study -- --from-json …` (tools/study/stability-study.ts); commands in stability.json.',
    'Ratio = held-out latent drift of DPO + GANPO / that of DPO alone, same task, loop, learning rate,',
    "seed, pairs and schedule. `default`: the regularizer's defaults; `legacy`: the previous default",
    "(`generator: 'paired-feature-matching', targetDecay: 0`); `target-only` and `relative-only`: the",
    "default with one of its two changes undone (`generator: 'paired-feature-matching'`, resp. `targetDecay: 0`).",
    '',
    '## Largest ratio over each run',
    '',
    "Each seed's largest ratio over the run, mean ± sample sd over seeds [the largest seed] (number of seeds):",
    '',
    ...compactTable(curves),
    '',
    'Per setting:',
    '',
    ...summaryTable(curves),
    '',
    '## Curves (mean over seeds, largest seed in brackets)',
    ...curveTable(curves),
  ];
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'stability.md'), `${md.join('\n')}\n`);
  writeFileSync(
    join(dir, 'stability.json'),
    `${JSON.stringify({ parts: parts.map((p) => ({ command: p.command, wallSeconds: p.wallSeconds, backend: p.backend })), runs }, null, 1)}\n`,
  );
  // One chart per task, of its main grid: the setting (latent width, length) with the most runs.
  for (const [task, cs] of groupBy(curves, (c) => c.task)) {
    const grids = groupBy(cs, (c) => `${c.latent}|${c.steps.join(',')}`);
    const main = [...grids.values()].sort((a, b) => b.length - a.length)[0] ?? [];
    writeFileSync(join(dir, `${task}.svg`), taskSvg(main, task));
  }
  console.log(md.join('\n'));
}
