// Turns the experiment's results into the Markdown table, the JSON record and the SVG plot.
import type { DemoResults, RunResult } from './experiment';
import { formatMeanStd, meanStd } from './stats';
import { type Panel, renderChart } from './svg';

const pct = (n: number): string => `${Math.round(100 * n)} %`;
const tk = (t: number): string => t.toFixed(1);

/** Values of `pick` over seeds for one method and noise level. */
function over(
  runs: readonly RunResult[],
  method: string,
  noise: number,
  pick: (r: RunResult) => number,
): number[] {
  return runs.filter((r) => r.method === method && r.noise === noise).map(pick);
}

/** Per-seed paired differences pick(a) − pick(b) at one noise level. */
function paired(
  runs: readonly RunResult[],
  a: string,
  b: string,
  noise: number,
  pick: (r: RunResult) => number,
): number[] {
  const out: number[] = [];
  for (const ra of runs.filter((r) => r.method === a && r.noise === noise)) {
    const rb = runs.find((r) => r.method === b && r.noise === noise && r.seed === ra.seed);
    if (rb) out.push(pick(ra) - pick(rb));
  }
  return out;
}

const methodsOf = (res: DemoResults): string[] => res.config.methods.map((m) => m.name);

/** The results as Markdown: setup line, SFT baseline, main table, GANPO − base differences. */
export function resultsMarkdown(res: DemoResults, command: string): string {
  const c = res.config;
  const temps = c.temperatures;
  const lines: string[] = [];
  lines.push(
    `Command: \`${command}\` — backend ${res.backend}, seeds ${c.seeds.join(', ')}, SFT ${c.sftSteps} steps, ` +
      `${c.steps} preference steps × batch ${c.batchSize} (lr ${c.learningRate}), ${c.trainSize} training pairs ` +
      `(${c.trainDigits.join('–')} digits), ${c.evalSize} held-out and ${c.evalSize} shifted prompts ` +
      `(${c.shiftedDigits.join('–')} digits); wall time ${(res.wallSeconds / 60).toFixed(1)} min.`,
  );
  lines.push('');
  lines.push('SFT start (exact match / judge score of sampled answers, mean ± std over seeds):');
  lines.push('');
  lines.push(`| split | ${temps.map((t) => `T = ${tk(t)}`).join(' | ')} |`);
  lines.push(`|---|${temps.map(() => '---|').join('')}`);
  for (const split of ['heldout', 'shifted'] as const) {
    const cells = temps.map((t) => {
      const ex = res.sft.map((s) => s.generation[split][tk(t)]?.exact ?? Number.NaN);
      const sc = res.sft.map((s) => s.generation[split][tk(t)]?.score ?? Number.NaN);
      return `${formatMeanStd(ex)} % / ${formatMeanStd(sc, { digits: 3, scale: 1 })}`;
    });
    lines.push(`| ${split === 'heldout' ? 'held-out' : 'shifted'} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  lines.push(
    'Preference accuracy (implicit-reward accuracy on clean held-out / shifted pairs, %) and judged win rate ' +
      'of sampled answers against the SFT model (%, ties count ½; 50 = no change), mean ± std over seeds:',
  );
  lines.push('');
  const head = [
    'method',
    'noise',
    'pref acc held-out',
    'pref acc shifted',
    ...temps.map((t) => `win held-out T=${tk(t)}`),
    ...temps.map((t) => `win shifted T=${tk(t)}`),
  ];
  lines.push(`| ${head.join(' | ')} |`);
  lines.push(`|${head.map(() => '---|').join('')}`);
  for (const noise of c.noiseLevels) {
    for (const m of methodsOf(res)) {
      const cells = [
        m,
        pct(noise),
        formatMeanStd(over(res.runs, m, noise, (r) => r.preferenceAccuracy.heldout)),
        formatMeanStd(over(res.runs, m, noise, (r) => r.preferenceAccuracy.shifted)),
        ...temps.map((t) =>
          formatMeanStd(over(res.runs, m, noise, (r) => r.winRate.heldout[tk(t)] ?? Number.NaN)),
        ),
        ...temps.map((t) =>
          formatMeanStd(over(res.runs, m, noise, (r) => r.winRate.shifted[tk(t)] ?? Number.NaN)),
        ),
      ];
      lines.push(`| ${cells.join(' | ')} |`);
    }
  }
  const ganpoMethods = methodsOf(res).filter((m) => m.endsWith('+GANPO'));
  if (ganpoMethods.length > 0) {
    lines.push('');
    lines.push(
      'GANPO diagnostics at the last training step (mean ± std over seeds and noise levels): ' +
        '`ganpo/divergence` = 2·(log 2 − discriminator loss), 0 when the critics cannot tell policy from reference latents.',
    );
    lines.push('');
    lines.push(
      '| method | ganpo/divergence | ganpo/adversarial_loss | discriminator loss chosen / rejected |',
    );
    lines.push('|---|---|---|---|');
    for (const m of ganpoMethods) {
      const rs = res.runs.filter((r) => r.method === m);
      const f = (k: string) => rs.map((r) => Number(r.final[k]));
      const fmt = (k: string) => formatMeanStd(f(k), { digits: 3, scale: 1 });
      lines.push(
        `| ${m} | ${fmt('ganpo/divergence')} | ${fmt('ganpo/adversarial_loss')} | ${fmt('ganpo/discriminator_loss_chosen')} / ${fmt('ganpo/discriminator_loss_rejected')} |`,
      );
    }
  }
  const pairsOf = methodsOf(res)
    .filter((m) => m.endsWith('+GANPO'))
    .map((m) => [m, m.slice(0, -'+GANPO'.length)] as const)
    .filter(([, base]) => methodsOf(res).includes(base));
  if (pairsOf.length > 0) {
    lines.push('');
    lines.push(
      'GANPO minus its base method, paired by seed (percentage points of win rate / preference accuracy; ' +
        'positive = GANPO better):',
    );
    lines.push('');
    const h2 = [
      'comparison',
      'noise',
      'Δ pref acc held-out',
      'Δ pref acc shifted',
      ...temps.map((t) => `Δ win held-out T=${tk(t)}`),
      ...temps.map((t) => `Δ win shifted T=${tk(t)}`),
    ];
    lines.push(`| ${h2.join(' | ')} |`);
    lines.push(`|${h2.map(() => '---|').join('')}`);
    for (const [g, base] of pairsOf) {
      for (const noise of c.noiseLevels) {
        const cells = [
          `${g} − ${base}`,
          pct(noise),
          formatMeanStd(paired(res.runs, g, base, noise, (r) => r.preferenceAccuracy.heldout)),
          formatMeanStd(paired(res.runs, g, base, noise, (r) => r.preferenceAccuracy.shifted)),
          ...temps.map((t) =>
            formatMeanStd(paired(res.runs, g, base, noise, (r) => r.winRate.heldout[tk(t)] ?? Number.NaN)),
          ),
          ...temps.map((t) =>
            formatMeanStd(paired(res.runs, g, base, noise, (r) => r.winRate.shifted[tk(t)] ?? Number.NaN)),
          ),
        ];
        lines.push(`| ${cells.join(' | ')} |`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The plot: win rate vs label noise (held-out, T = 1.0) and vs temperature (held-out and shifted, no noise). */
export function resultsSvg(res: DemoResults): string {
  const c = res.config;
  const midT = c.temperatures.includes(1) ? 1 : (c.temperatures[0] as number);
  const clean = c.noiseLevels[0] as number;
  const stat = (xs: number[]) => meanStd(xs);
  const series = (xsOf: (m: string) => number[][]) =>
    methodsOf(res).map((m) => {
      const s = xsOf(m).map(stat);
      return { name: m, mean: s.map((x) => x.mean), std: s.map((x) => x.std) };
    });
  const panels: Panel[] = [
    {
      title: `held-out, T = ${tk(midT)}`,
      xLabel: 'flipped training labels',
      yLabel: 'win rate vs SFT',
      xTicks: c.noiseLevels.map(pct),
      series: series((m) =>
        c.noiseLevels.map((n) => over(res.runs, m, n, (r) => r.winRate.heldout[tk(midT)] ?? Number.NaN)),
      ),
      reference: 0.5,
    },
    {
      title: `held-out, ${pct(clean)} noise`,
      xLabel: 'sampling temperature',
      yLabel: 'win rate vs SFT',
      xTicks: c.temperatures.map(tk),
      series: series((m) =>
        c.temperatures.map((t) => over(res.runs, m, clean, (r) => r.winRate.heldout[tk(t)] ?? Number.NaN)),
      ),
      reference: 0.5,
    },
    {
      title: `shifted (longer) prompts, ${pct(clean)} noise`,
      xLabel: 'sampling temperature',
      yLabel: 'win rate vs SFT',
      xTicks: c.temperatures.map(tk),
      series: series((m) =>
        c.temperatures.map((t) => over(res.runs, m, clean, (r) => r.winRate.shifted[tk(t)] ?? Number.NaN)),
      ),
      reference: 0.5,
    },
  ];
  return renderChart(panels, {
    title: `Judged win rate against the SFT model (mean ± std over ${c.seeds.length} seed${c.seeds.length > 1 ? 's' : ''})`,
  });
}
