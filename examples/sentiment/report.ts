// The benchmark's report: the frontier table (mean ± sample std over seeds), each regularized point's
// reward against DPO's own β frontier at the same KL (paired by seed), and the SVG frontier plot.
import { renderScatter, type ScatterPanel, type ScatterSeries } from '../demo/scatter';
import { formatMeanStd, meanStd } from '../demo/stats';
import type { RunResult, SentimentResults } from './experiment';
import {
  BASE_BETA,
  CRITIC_SEED,
  FAMILIES,
  type Family,
  FROZEN_CRITIC_RATIO,
  PAIRED_FEATURE_MATCHING,
  SMALL_TRANSFORMER,
} from './methods';

/** Legend names (a legend column is about 28 characters wide; the recipes are in the table's note). */
const FAMILY_LABEL: Record<Family, string> = {
  dpo: 'DPO alone, β sweep',
  anchor: 'latent anchor',
  official: 'GANPO official',
  mlp: 'GANPO paired FM, MLP critic',
  transformer: 'GANPO paired FM, transformer',
  'mlp-frozen': 'MLP critic frozen',
  'transformer-frozen': 'transformer critic frozen',
  'mlp-target': 'GANPO default, MLP critic',
  'transformer-target': 'GANPO default, transformer',
};

/** The methods of a study in table order, with their family and swept value. */
function methodsOf(runs: readonly RunResult[]): { method: string; family: Family; value: number }[] {
  const seen = new Map<string, { method: string; family: Family; value: number }>();
  for (const r of runs)
    if (!seen.has(r.method)) seen.set(r.method, { method: r.method, family: r.family, value: r.value });
  return [...seen.values()].sort(
    (a, b) => FAMILIES.indexOf(a.family) - FAMILIES.indexOf(b.family) || a.value - b.value,
  );
}

/**
 * DPO's β frontier of one seed, read at `kl`: the reward of the straight line between the two DPO
 * runs whose KLs bracket `kl` (NaN outside the swept range: no extrapolation).
 */
export function dpoRewardAt(runs: readonly RunResult[], seed: number, kl: number): number {
  const pts = runs
    .filter((r) => r.family === 'dpo' && r.seed === seed)
    .map((r) => ({ kl: r.kl, reward: r.reward }))
    .sort((a, b) => a.kl - b.kl);
  for (let i = 0; i + 1 < pts.length; i++) {
    const [a, b] = [pts[i] as { kl: number; reward: number }, pts[i + 1] as { kl: number; reward: number }];
    if (kl >= a.kl && kl <= b.kl)
      return b.kl === a.kl
        ? Math.max(a.reward, b.reward)
        : a.reward + ((kl - a.kl) / (b.kl - a.kl)) * (b.reward - a.reward);
  }
  return Number.NaN;
}

/** Per seed: the run's reward minus DPO's frontier reward at the run's KL (seeds outside DPO's range drop). */
export function aboveDpoFrontier(runs: readonly RunResult[], method: string): number[] {
  return runs
    .filter((r) => r.method === method)
    .map((r) => r.reward - dpoRewardAt(runs, r.seed, r.kl))
    .filter(Number.isFinite);
}

const over = (runs: readonly RunResult[], method: string, pick: (r: RunResult) => number): number[] =>
  runs.filter((r) => r.method === method).map(pick);

/**
 * Per seed: `diff(run, base)` against the DPO run at the regularized runs' β ({@link BASE_BETA}) of the
 * same seed, i.e. against λ 0 of the same recipe (seeds without that run drop).
 */
export function pairedWithBase(
  runs: readonly RunResult[],
  method: string,
  diff: (run: RunResult, base: RunResult) => number,
): number[] {
  return runs
    .filter((r) => r.method === method)
    .flatMap((r) => {
      const base = runs.find((b) => b.family === 'dpo' && b.value === BASE_BETA && b.seed === r.seed);
      return base ? [diff(r, base)] : [];
    });
}

/** The Markdown report: data and model sizes, costs, the frontier table, samples. */
export function sentimentMarkdown(res: SentimentResults, command: string): string {
  const { data, sft, config } = res;
  const runs = res.runs;
  const seeds = [...new Set(runs.map((r) => r.seed))].sort((a, b) => a - b);
  const f3 = { digits: 3, scale: 1 };
  const pct = { digits: 1, scale: 100 };
  const lines = [
    `Command: \`${command}\` (backend ${res.backend}; seeds ${seeds.join(', ')}; mean ± sample std over seeds).`,
    '',
    `- Corpus: ${data.corpus}, ${data.documents.sft} SFT documents, ${data.documents.pairs} pair-prompt documents, ` +
      `${data.documents.eval} evaluation documents; SFT on ${data.sftWindows} windows of running text ` +
      `(${(data.sftCharacters / 1e6).toFixed(2)} M characters).`,
    `- SFT model: ${sft.model}, ${sft.parameters} parameters, ${config.sft.steps} steps of batch ${config.sft.batchSize}, ` +
      `final loss ${sft.finalLoss.toFixed(3)} nats/byte, ${sft.seconds.toFixed(0)} s.`,
    `- Pairs: ${data.pairs} of ${data.pairPrompts} prompts (two samples at T ${config.temperature} of ` +
      `${config.continuationTokens} bytes; ${data.ties} ties dropped); reward of chosen ${data.chosenReward.toFixed(3)}, ` +
      `rejected ${data.rejectedReward.toFixed(3)}. Held out: ${data.evalPrompts} prompts (${data.evalPairs} labelled pairs ` +
      'for preference accuracy).',
    `- Training: ${config.training.steps} steps of batch ${config.training.batchSize}, AdamW peak lr ` +
      `${config.training.learningRate}, 10 % warm-up + cosine; SFT reward on held-out prompts ${sft.reward.toFixed(3)}.`,
    `- Wall time: ${(res.prepareSeconds / 60).toFixed(1)} min of data preparation (SFT and pairs cached: ` +
      `${sft.cached ? 'yes' : 'no'}), ${(res.wallSeconds / 60).toFixed(1)} min in all (summed over processes).`,
    '',
    '| method | reward | KL (nats) | drift | win rate vs SFT | pref. acc. | reward − DPO frontier at same KL | critic loss | train s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    `| SFT (reference) | ${sft.reward.toFixed(3)} | 0 | 0 | 50 % | – | – | – | – |`,
  ];
  for (const m of methodsOf(runs)) {
    const pick = (f: (r: RunResult) => number, o = f3) => formatMeanStd(over(runs, m.method, f), o);
    const critic = over(runs, m.method, (r) => {
      const [c, w] = [r.tail['ganpo/discriminator_loss_chosen'], r.tail['ganpo/discriminator_loss_rejected']];
      return c === undefined || w === undefined ? Number.NaN : (c + w) / 2;
    }).filter(Number.isFinite);
    const above = m.family === 'dpo' ? '–' : formatMeanStd(aboveDpoFrontier(runs, m.method), f3);
    lines.push(
      `| ${m.method} | ${pick((r) => r.reward)} | ${pick((r) => r.kl, { digits: 2, scale: 1 })} | ` +
        `${pick((r) => r.drift, { digits: 4, scale: 1 })} | ${pick((r) => r.winRate, pct)} % | ` +
        `${pick((r) => r.preferenceAccuracy, pct)} % | ${above} | ` +
        `${critic.length ? formatMeanStd(critic, f3) : '–'} | ${meanStd(over(runs, m.method, (r) => r.trainSeconds)).mean.toFixed(0)} |`,
    );
  }
  const regularized = methodsOf(runs).filter((m) => m.family !== 'dpo');
  if (regularized.length > 0) {
    lines.push(
      '',
      `Paired by seed with DPO β=${BASE_BETA} alone (λ 0 of the same recipe):`,
      '',
      '| method | Δ reward | Δ KL (nats) | drift ratio | Δ win rate (pts) | Δ pref. acc. (pts) |',
      '| --- | --- | --- | --- | --- | --- |',
    );
    for (const m of regularized) {
      const d = (f: (r: RunResult, b: RunResult) => number, o: { digits: number; scale: number }) =>
        formatMeanStd(pairedWithBase(runs, m.method, f), o);
      lines.push(
        `| ${m.method} | ${d((r, b) => r.reward - b.reward, f3)} | ${d((r, b) => r.kl - b.kl, { digits: 2, scale: 1 })} | ` +
          `${d((r, b) => r.drift / b.drift, { digits: 2, scale: 1 })} | ${d((r, b) => r.winRate - b.winRate, pct)} | ` +
          `${d((r, b) => r.preferenceAccuracy - b.preferenceAccuracy, pct)} |`,
      );
    }
  }
  lines.push(
    '',
    'reward: mean VADER compound of prompt + continuation over held-out prompts, one sample each at T 1; KL: ' +
      'Σ_t KL(π_θ ‖ π_ref) of the next-byte distributions along those samples; drift: Σ‖h_θ − h_ref‖² / ' +
      "Σ‖h_ref‖² of the last hidden state on the SFT model's held-out samples; win rate: share of prompts " +
      'where the policy\'s sample outscores the SFT model\'s (same random numbers, ties ½). "reward − DPO frontier": ' +
      "per seed, the run's reward minus the reward of DPO's β frontier of that seed linearly interpolated at the " +
      "run's KL (positive = above DPO's frontier; \"–\" when the KL lies outside the β sweep's range). " +
      `Recipes: \`DPO β=…\`: \`objective: { kind: 'dpo', beta }\`, no regularizer; the others use β ${BASE_BETA} with ` +
      "`regularizer:` `anchor`: `{ kind: 'anchor', weight: λ }`; `official`: `{ preset: 'official', critic: T, weight: λ }`; " +
      "`mlp`: `{ critic: { kind: 'mlp' }, weight: λ, ...P }`; `transformer`: `{ critic: T, weight: λ, ...P }`; `mlp-frozen` / " +
      `\`transformer-frozen\`: the same with \`criticLearningRateRatio: ${FROZEN_CRITIC_RATIO}\`; \`mlp-target\` / \`transformer-target\`: the regularizer's current default, \`{ critic: { kind: 'mlp' } | T, weight: λ }\` (relative feature matching on target critics, \`targetDecay\` 0.99); T = ` +
      `\`{ ${Object.entries(SMALL_TRANSFORMER)
        .map(([k, v]) => `${k}: ${typeof v === 'string' ? `'${v}'` : v}`)
        .join(
          ', ',
        )} }\` (critic seed ${CRITIC_SEED}); P = \`{ generator: '${PAIRED_FEATURE_MATCHING.generator}', targetDecay: ${PAIRED_FEATURE_MATCHING.targetDecay} }\` (GANPO's default generator before target critics).`,
    '',
    'Samples (held-out prompts, first seed):',
    '',
    ...sft.examples.map((e) => `- SFT: ${JSON.stringify(e)}`),
  );
  for (const m of methodsOf(runs)) {
    const r = runs.find((x) => x.method === m.method && x.seed === seeds[0]);
    if (r) lines.push(`- ${m.method}: ${JSON.stringify(r.examples[0] ?? '')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The frontier plot: reward against KL (the DPO paper's axes), against drift, and win rate against KL. */
export function sentimentSvg(res: SentimentResults): string {
  const runs = res.runs;
  const series = (x: (r: RunResult) => number, y: (r: RunResult) => number): ScatterSeries[] =>
    FAMILIES.filter((f) => runs.some((r) => r.family === f)).map((family) => ({
      name: FAMILY_LABEL[family],
      points: methodsOf(runs)
        .filter((m) => m.family === family)
        .map((m) => {
          const xs = meanStd(over(runs, m.method, x));
          const ys = meanStd(over(runs, m.method, y));
          const knob = family === 'dpo' ? 'β' : 'λ';
          return { x: xs.mean, y: ys.mean, xErr: xs.std, yErr: ys.std, label: `${knob}=${m.value}` };
        }),
    }));
  const reward = (r: RunResult) => r.reward;
  const panels: ScatterPanel[] = [
    {
      title: 'reward vs KL(π_θ ‖ π_ref)',
      xLabel: 'KL (nats per continuation)',
      yLabel: 'mean reward (VADER)',
      series: series((r) => r.kl, reward),
      reference: res.sft.reward,
    },
    {
      title: 'reward vs latent drift',
      xLabel: 'latent drift',
      yLabel: 'mean reward (VADER)',
      series: series((r) => r.drift, reward),
      reference: res.sft.reward,
    },
    {
      title: 'win rate vs SFT, against KL',
      xLabel: 'KL (nats per continuation)',
      yLabel: 'win rate (%)',
      series: series(
        (r) => r.kl,
        (r) => 100 * r.winRate,
      ),
      reference: 50,
    },
  ];
  return renderScatter(panels, {
    title: `Controlled sentiment generation on ${res.data.corpus}: DPO's β sweep and regularizers on DPO β=${BASE_BETA} (dashed: the SFT model)`,
    columns: 3,
  });
}
