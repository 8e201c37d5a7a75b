// Turns the experiment's results into the Markdown tables and the two SVG plots.
import type { DemoResults, RunResult } from './experiment';
import { renderScatter, type ScatterPanel } from './scatter';
import { formatMeanStd, meanStd, tFactor95 } from './stats';
import { type Panel, renderChart } from './svg';

const pct = (n: number): string => `${Math.round(100 * n)} %`;
const tk = (t: number): string => t.toFixed(1);
type Pick = (r: RunResult) => number;

/** Values of `pick` over seeds for one method and noise level. */
function over(runs: readonly RunResult[], method: string, noise: number, pick: Pick): number[] {
  return runs.filter((r) => r.method === method && r.noise === noise).map(pick);
}

/** Per-seed paired values pick(a) − pick(b) (or pick(a) / pick(b)) at one noise level. */
export function paired(
  runs: readonly RunResult[],
  a: string,
  b: string,
  noise: number,
  pick: Pick,
  how: 'difference' | 'ratio' = 'difference',
): number[] {
  const out: number[] = [];
  for (const ra of runs.filter((r) => r.method === a && r.noise === noise)) {
    const rb = runs.find((r) => r.method === b && r.noise === noise && r.seed === ra.seed);
    if (rb) out.push(how === 'ratio' ? pick(ra) / pick(rb) : pick(ra) - pick(rb));
  }
  return out;
}

const methodsOf = (res: DemoResults) => res.config.methods;
/** Whether any run of `method` at `noise` exists (a merged study may not have every combination). */
const ran = (res: DemoResults, method: string, noise: number): boolean =>
  res.runs.some((r) => r.method === method && r.noise === noise);
const baseOf = (res: DemoResults): string | undefined =>
  methodsOf(res).find((m) => m.family === 'base')?.name;

/** Mean of the two critics' discriminator losses, averaged over the last 10 % of steps. */
export const criticLoss: Pick = (r) =>
  ((r.tail['ganpo/discriminator_loss_chosen'] ?? Number.NaN) +
    (r.tail['ganpo/discriminator_loss_rejected'] ?? Number.NaN)) /
  2;
/** Share of pairs each critic scores reference above policy (mean of both), last 10 % of steps. */
export const criticAccuracy: Pick = (r) =>
  ((r.tail['ganpo/critic_accuracy_chosen'] ?? Number.NaN) +
    (r.tail['ganpo/critic_accuracy_rejected'] ?? Number.NaN)) /
  2;
/** formatMeanStd of the finite values only; "–" when there are none (a metric older runs lack). */
const finite = (fmt: (xs: number[]) => string) => (xs: number[]) => {
  const ok = xs.filter(Number.isFinite);
  return ok.length === 0 ? '–' : fmt(ok);
};
const win =
  (split: 'heldout' | 'shifted', t: number): Pick =>
  (r) =>
    r.winRate[split][tk(t)] ?? Number.NaN;

const f4 = (xs: number[]) => formatMeanStd(xs, { digits: 4, scale: 1 });
const f3 = (xs: number[]) => formatMeanStd(xs, { digits: 3, scale: 1 });
const f2 = (xs: number[]) => formatMeanStd(xs, { digits: 2, scale: 1 });
const f1 = (xs: number[]) => formatMeanStd(xs);

export function table(head: string[], rows: string[][]): string[] {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---|').join('')}`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

/** Columns of a paired comparison a vs b: drift ratios, Δ KL, Δ preference accuracy, Δ win rates. */
export function pairedCells(res: DemoResults, a: string, b: string, noise: number): string[] {
  const p = (pick: Pick, how: 'difference' | 'ratio' = 'difference') =>
    paired(res.runs, a, b, noise, pick, how);
  return [
    f2(p((r) => r.drift.heldout, 'ratio')),
    f2(p((r) => r.drift.shifted, 'ratio')),
    f3(p((r) => r.kl.heldout)),
    f1(p((r) => r.preferenceAccuracy.heldout)),
    f1(p((r) => r.preferenceAccuracy.shifted)),
    ...res.config.temperatures.map((t) => f1(p(win('heldout', t)))),
    ...res.config.temperatures.map((t) => f1(p(win('shifted', t)))),
  ];
}

export function pairedHead(res: DemoResults, first: string): string[] {
  const temps = res.config.temperatures;
  return [
    first,
    'noise',
    'drift ratio held-out',
    'drift ratio shifted',
    'Δ KL held-out',
    'Δ pref acc held-out',
    'Δ pref acc shifted',
    ...temps.map((t) => `Δ win held-out T=${tk(t)}`),
    ...temps.map((t) => `Δ win shifted T=${tk(t)}`),
  ];
}

/** The results as Markdown: setup, SFT start, per-method table, paired comparisons, win rates. */
export function resultsMarkdown(
  res: DemoResults,
  command: string,
  parts: readonly { command: string; wallSeconds: number }[] = [],
): string {
  const c = res.config;
  const temps = c.temperatures;
  const n = c.seeds.length;
  const lines: string[] = [];
  const setup =
    `backend ${res.backend}, seeds ${c.seeds.join(', ')}, SFT ${c.sftSteps} steps, ` +
    `${c.steps} preference steps × batch ${c.batchSize} (lr ${c.learningRate}), ${c.trainSize} training pairs ` +
    `(${c.trainDigits.join('–')} digits), ${c.evalSize} held-out and ${c.evalSize} shifted prompts ` +
    `(${c.shiftedDigits.join('–')} digits)`;
  if (parts.length > 1) {
    lines.push(
      `Merged from ${parts.length} processes (\`--from-json\`) — ${setup}. The parts (wall time each):`,
    );
    lines.push('');
    for (const p of parts) lines.push(`- \`${p.command}\` (${(p.wallSeconds / 60).toFixed(1)} min)`);
  } else {
    lines.push(`Command: \`${command}\` — ${setup}; wall time ${(res.wallSeconds / 60).toFixed(1)} min.`);
  }
  lines.push('');
  lines.push(
    `Error bars: mean ± sample standard deviation over the ${n} seed${n > 1 ? 's' : ''}; paired columns take the ` +
      `per-seed difference (or ratio) first.${n > 1 ? ` A 95 % t-interval is mean ± ${tFactor95(n).toFixed(2)} × std for n = ${n}.` : ''}`,
  );
  lines.push('');
  lines.push('SFT start (exact match / judge score of sampled answers):');
  lines.push('');
  lines.push(
    ...table(
      ['split', ...temps.map((t) => `T = ${tk(t)}`)],
      (['heldout', 'shifted'] as const).map((split) => [
        split === 'heldout' ? 'held-out' : 'shifted',
        ...temps.map((t) => {
          const ex = res.sft.map((s) => s.generation[split][tk(t)]?.exact ?? Number.NaN);
          const sc = res.sft.map((s) => s.generation[split][tk(t)]?.score ?? Number.NaN);
          return `${f1(ex)} % / ${f3(sc)}`;
        }),
      ]),
    ),
  );
  lines.push('');
  lines.push(
    'Per method: latent drift Σ‖h_θ − h_ref‖² / Σ‖h_ref‖² (last hidden state, every real token of the ' +
      'split’s prompt+chosen and prompt+rejected sequences), KL(π_θ ‖ π_ref) summed over completions the policy ' +
      'samples at T = 1 (nats per completion), preference accuracy on clean pairs (%), judged win rate against ' +
      'the SFT model at T = 1.0 (%, ties ½), and, over the last 10 % of steps, the critics’ loss (log 2 = 0.693: chance) ' +
      'and accuracy (% of pairs scored reference above policy, ties ½; 50: chance):',
  );
  lines.push('');
  const rows: string[][] = [];
  for (const noise of c.noiseLevels) {
    for (const m of methodsOf(res).filter((x) => ran(res, x.name, noise))) {
      const v = (pick: Pick) => over(res.runs, m.name, noise, pick);
      rows.push([
        m.name,
        pct(noise),
        f4(v((r) => r.drift.heldout)),
        f4(v((r) => r.drift.shifted)),
        f3(v((r) => r.kl.heldout)),
        f3(v((r) => r.kl.shifted)),
        f1(v((r) => r.preferenceAccuracy.heldout)),
        f1(v((r) => r.preferenceAccuracy.shifted)),
        f1(v(win('heldout', 1))),
        f1(v(win('shifted', 1))),
        m.family === 'base' ? '–' : finite(f3)(v(criticLoss)),
        m.family === 'base' ? '–' : finite(f1)(v(criticAccuracy)),
      ]);
    }
  }
  lines.push(
    ...table(
      [
        'method',
        'noise',
        'drift held-out',
        'drift shifted',
        'KL held-out',
        'KL shifted',
        'pref acc held-out',
        'pref acc shifted',
        'win held-out T=1.0',
        'win shifted T=1.0',
        'critic loss',
        'critic accuracy',
      ],
      rows,
    ),
  );
  const base = baseOf(res);
  const ganpo = methodsOf(res).filter((m) => m.family !== 'base');
  if (base && ganpo.length > 0) {
    lines.push('');
    lines.push(
      `Paired against ${base} alone (λ = 0; same seed, same noise): drift ratio = drift(GANPO) / drift(${base}) ` +
        '(< 1: GANPO kept the latents closer to the reference); Δ = GANPO − base, in nats (KL) or percentage ' +
        'points (accuracy, win rate; positive = GANPO better):',
    );
    lines.push('');
    const prow: string[][] = [];
    for (const noise of c.noiseLevels)
      for (const m of ganpo.filter((x) => ran(res, x.name, noise) && ran(res, base, noise)))
        prow.push([`${m.name} vs ${base}`, pct(noise), ...pairedCells(res, m.name, base, noise)]);
    lines.push(...table(pairedHead(res, 'comparison'), prow));
  }
  const matched = methodsOf(res)
    .filter((m) => m.family === 'default')
    .flatMap((d) => {
      const o = methodsOf(res).find((m) => m.family === 'official' && m.lambda === d.lambda);
      return o ? [[d.name, o.name] as const] : [];
    });
  if (matched.length > 0) {
    lines.push('');
    lines.push(
      'Default against official GANPO at the same λ (ratio default / official; Δ = default − official):',
    );
    lines.push('');
    const mrow: string[][] = [];
    for (const noise of c.noiseLevels)
      for (const [d, o] of matched.filter(([d, o]) => ran(res, d, noise) && ran(res, o, noise)))
        mrow.push([`${d} vs ${o}`, pct(noise), ...pairedCells(res, d, o, noise)]);
    lines.push(...table(pairedHead(res, 'comparison'), mrow));
  }
  lines.push('');
  lines.push('Judged win rate against the SFT model at every temperature (%, ties ½; 50 = no change):');
  lines.push('');
  const wrows: string[][] = [];
  for (const noise of c.noiseLevels)
    for (const m of methodsOf(res).filter((x) => ran(res, x.name, noise)))
      wrows.push([
        m.name,
        pct(noise),
        ...temps.map((t) => f1(over(res.runs, m.name, noise, win('heldout', t)))),
        ...temps.map((t) => f1(over(res.runs, m.name, noise, win('shifted', t)))),
      ]);
  lines.push(
    ...table(
      [
        'method',
        'noise',
        ...temps.map((t) => `held-out T=${tk(t)}`),
        ...temps.map((t) => `shifted T=${tk(t)}`),
      ],
      wrows,
    ),
  );
  return `${lines.join('\n')}\n`;
}

/**
 * Quality against drift, both paired with the λ = 0 run of the same seed: x = drift / drift(λ = 0)
 * on held-out sequences, y = change in a quality measure (percentage points). One panel per measure
 * (held-out and shifted win rate at T = 1.0 and preference accuracy with clean labels, then held-out
 * win rate at each noisy level); one series per GANPO configuration, from λ = 0 at (1, 0) up its λ.
 */
export function resultsSvg(res: DemoResults): string {
  const c = res.config;
  const base = baseOf(res);
  const families = (['official', 'default'] as const).filter((f) =>
    methodsOf(res).some((m) => m.family === f),
  );
  const clean = c.noiseLevels[0] as number;
  const panel = (title: string, yLabel: string, noise: number, pick: Pick): ScatterPanel => {
    const point = (name: string, label: string) => {
      if (name === base) return { x: 1, y: 0, label };
      const dx = meanStd(paired(res.runs, name, base ?? '', noise, (r) => r.drift.heldout, 'ratio'));
      const dy = meanStd(paired(res.runs, name, base ?? '', noise, (r) => 100 * pick(r)));
      return { x: dx.mean, xErr: dx.std, y: dy.mean, yErr: dy.std, label };
    };
    const series = families.map((f) => ({
      name: `${f} GANPO`,
      points: [
        ...(base ? [point(base, 'λ=0')] : []),
        ...methodsOf(res)
          .filter((m) => m.family === f)
          .sort((a, b) => a.lambda - b.lambda)
          .map((m) => point(m.name, `λ=${m.lambda}`)),
      ],
    }));
    return {
      title,
      xLabel: `held-out drift / drift of ${base ?? 'λ = 0'} (same seed)`,
      yLabel,
      series,
      reference: 0,
      xReference: 1,
    };
  };
  const dWin = 'Δ win rate vs λ = 0 (points)';
  const panels: ScatterPanel[] = [
    panel(`held-out win rate, T = 1.0, ${pct(clean)} noise`, dWin, clean, win('heldout', 1)),
    panel(`shifted win rate, T = 1.0, ${pct(clean)} noise`, dWin, clean, win('shifted', 1)),
    panel(
      `preference accuracy, ${pct(clean)} noise`,
      'Δ held-out accuracy (points)',
      clean,
      (r) => r.preferenceAccuracy.heldout,
    ),
    ...c.noiseLevels
      .slice(1)
      .map((noise) =>
        panel(`held-out win rate, T = 1.0, ${pct(noise)} noise`, dWin, noise, win('heldout', 1)),
      ),
  ];
  return renderScatter(panels, {
    title: `Quality against latent drift, paired with λ = 0 by seed (mean ± std over ${c.seeds.length} seed${c.seeds.length > 1 ? 's' : ''})`,
  });
}

/** Win rate against the SFT model by label noise (held-out, T = 1.0) and by temperature (clean labels). */
export function conditionsSvg(res: DemoResults): string {
  const c = res.config;
  const midT = c.temperatures.includes(1) ? 1 : (c.temperatures[0] as number);
  const clean = c.noiseLevels[0] as number;
  const series = (xsOf: (m: string) => number[][]) =>
    methodsOf(res).map((m) => {
      const s = xsOf(m.name).map((xs) => meanStd(xs));
      return { name: m.name, mean: s.map((x) => x.mean), std: s.map((x) => x.std) };
    });
  const panels: Panel[] = [
    ...(c.noiseLevels.length > 1
      ? [
          {
            title: `held-out, T = ${tk(midT)}`,
            xLabel: 'flipped training labels',
            yLabel: 'win rate vs SFT',
            xTicks: c.noiseLevels.map(pct),
            series: series((m) => c.noiseLevels.map((n) => over(res.runs, m, n, win('heldout', midT)))),
            reference: 0.5,
          },
        ]
      : []),
    ...(['heldout', 'shifted'] as const).map((split) => ({
      title: `${split === 'heldout' ? 'held-out' : 'shifted (longer) prompts'}, ${pct(clean)} noise`,
      xLabel: 'sampling temperature',
      yLabel: 'win rate vs SFT',
      xTicks: c.temperatures.map(tk),
      series: series((m) => c.temperatures.map((t) => over(res.runs, m, clean, win(split, t)))),
      reference: 0.5,
    })),
  ];
  return renderChart(panels, {
    title: `Judged win rate against the SFT model (mean ± std over ${c.seeds.length} seed${c.seeds.length > 1 ? 's' : ''})`,
  });
}
