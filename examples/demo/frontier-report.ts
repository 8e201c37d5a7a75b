// The report of `npm run demo -- --frontier`: per-method table, paired differences against DPO at the
// demo's β, every run against DPO's β frontier at equal KL and at equal drift (paired by seed), what
// the critic's learning adds (learning against frozen critics), and the SVG frontier plot.
import type { DemoResults, RunResult } from './experiment';
import { type FrontierAxes, frontierGaps } from './frontier';
import { FRONTIER_FAMILIES, type FrontierFamily, type MethodSpec, OBJECTIVES } from './methods';
import { criticAccuracy, criticLoss, paired, pairedCells, pairedHead, table } from './report';
import { renderScatter, type ScatterPanel } from './scatter';
import { formatMeanStd, meanStd, tFactor95 } from './stats';

/** The paired baseline: DPO at the demo's β (TRL's default). */
export const FRONTIER_BASE = `${OBJECTIVES.dpo.label} β=${(OBJECTIVES.dpo.objective as { beta: number }).beta}`;

const FAMILY_LABEL: Record<FrontierFamily, string> = {
  dpo: 'DPO, β sweep',
  anchor: 'latent anchor',
  mmd: 'latent MMD',
  official: 'GANPO official (MLP critic)',
  mlp: 'GANPO paired FM, MLP critic',
  transformer: 'GANPO paired FM, transformer critic',
  'mlp-frozen': 'paired FM, MLP critic frozen',
  'transformer-frozen': 'paired FM, transformer critic frozen',
  'variant-mlp': 'GANPO relative FM + targets, MLP',
  'variant-transformer': 'GANPO relative FM + targets, transformer',
};

const betaOf = (m: MethodSpec): number => (m.objective as { beta?: number }).beta ?? Number.NaN;
/** The swept knob of a recipe: β for DPO's sweep, λ otherwise. */
const knob = (m: MethodSpec): number => (m.family === 'dpo' ? betaOf(m) : m.lambda);
const knobLabel = (m: MethodSpec): string => `${m.family === 'dpo' ? 'β' : 'λ'}=${knob(m)}`;

/** The study's recipes that ran, in frontier order (family, then β or λ). */
function frontierOrder(res: DemoResults): MethodSpec[] {
  const index = (m: MethodSpec) => FRONTIER_FAMILIES.indexOf(m.family as FrontierFamily);
  return res.config.methods
    .filter((m) => index(m) >= 0 && res.runs.some((r) => r.method === m.name && r.noise === 0))
    .sort((a, b) => index(a) - index(b) || knob(a) - knob(b));
}

const over = (res: DemoResults, method: string, pick: (r: RunResult) => number): number[] =>
  res.runs.filter((r) => r.method === method && r.noise === 0).map(pick);

const win = (r: RunResult): number => r.winRate.heldout['1.0'] ?? Number.NaN;
const acc = (r: RunResult): number => r.preferenceAccuracy.heldout;
const kl = (r: RunResult): number => r.kl.heldout;
const drift = (r: RunResult): number => r.drift.heldout;

const f =
  (digits: number, scale = 1) =>
  (xs: number[]) =>
    formatMeanStd(xs, { digits, scale });

/** `mean ± std` of the finite gaps, with `(k/n)` when some seeds fell outside DPO's range. */
function gapCell(
  res: DemoResults,
  method: string,
  axes: FrontierAxes,
  format = { digits: 1, scale: 100 },
): string {
  const gaps = frontierGaps(res.runs, method, axes).map((g) => g.gap);
  const ok = gaps.filter(Number.isFinite);
  if (ok.length === 0) return 'outside';
  const cell = formatMeanStd(ok, format);
  return ok.length < gaps.length ? `${cell} (${ok.length}/${gaps.length})` : cell;
}

/** The frozen-critic ablations with the learning recipe they mirror (same critic, same λ). */
function frozenPairs(methods: readonly MethodSpec[]): [MethodSpec, MethodSpec][] {
  return methods.flatMap((frozen) => {
    const learning = { 'mlp-frozen': 'mlp', 'transformer-frozen': 'transformer' }[frozen.family as string];
    const m = methods.find((x) => x.family === learning && x.lambda === frozen.lambda);
    return m ? [[m, frozen] as [MethodSpec, MethodSpec]] : [];
  });
}

/**
 * One line per recipe for README: its drift, then paired by seed against DPO at the demo's β (drift
 * ratio, Δ KL, Δ quality) and against DPO's β frontier (Δ quality at equal KL, Δ KL at equal drift).
 */
function summaryTable(res: DemoResults, methods: readonly MethodSpec[]): string[] {
  const vsBase = (
    m: MethodSpec,
    pick: (r: RunResult) => number,
    how: 'difference' | 'ratio',
    fmt: (xs: number[]) => string,
  ) =>
    m.name === FRONTIER_BASE
      ? how === 'ratio'
        ? '1'
        : '0'
      : fmt(paired(res.runs, m.name, FRONTIER_BASE, 0, pick, how));
  const vsFrontier = (m: MethodSpec, axes: FrontierAxes, format?: { digits: number; scale: number }) =>
    m.family === 'dpo' ? '–' : gapCell(res, m.name, axes, format);
  return table(
    [
      'recipe',
      'drift',
      'drift ratio',
      'Δ KL (nats)',
      'Δ pref acc',
      'Δ win T=1.0',
      'Δ pref acc at equal KL',
      'Δ win at equal KL',
      'Δ KL at equal drift',
    ],
    methods.map((m) => [
      m.name,
      f(3)(over(res, m.name, drift)),
      vsBase(m, drift, 'ratio', f(2)),
      vsBase(m, kl, 'difference', f(2)),
      vsBase(m, acc, 'difference', f(1, 100)),
      vsBase(m, win, 'difference', f(1, 100)),
      vsFrontier(m, { x: kl, y: acc }),
      vsFrontier(m, { x: kl, y: win }),
      vsFrontier(m, { x: drift, y: kl }, { digits: 2, scale: 1 }),
    ]),
  );
}

/** The frontier study as Markdown. */
export function frontierMarkdown(
  res: DemoResults,
  command: string,
  parts: readonly { command: string; wallSeconds: number }[] = [],
): string {
  const c = res.config;
  const n = c.seeds.length;
  const methods = frontierOrder(res);
  const lines: string[] = [
    `${parts.length > 1 ? `Merged from ${parts.length} processes (\`--from-json\`)` : `Command: \`${command}\``} — backend ` +
      `${res.backend}, seeds ${c.seeds.join(', ')}, SFT ${c.sftSteps} steps, ${c.steps} preference steps × batch ` +
      `${c.batchSize} (lr ${c.learningRate}), ${c.trainSize} training pairs, ${c.evalSize} held-out and ${c.evalSize} ` +
      `shifted prompts, clean labels; ${(res.wallSeconds / 60).toFixed(1)} min of experiment wall time in all.`,
    ...(parts.length > 1
      ? ['', ...parts.map((p) => `- \`${p.command}\` (${(p.wallSeconds / 60).toFixed(1)} min)`)]
      : []),
    '',
    `Mean ± sample standard deviation over the ${n} seeds (every recipe of a seed starts from the same SFT ` +
      'model, trains on the same pairs in the same order and is sampled with the same random numbers); ' +
      `paired columns take the per-seed difference (or ratio) first.${n > 1 ? ` A 95 % t-interval is ± ${tFactor95(n).toFixed(2)} × std for n = ${n}.` : ''}`,
    '',
    `Summary: held-out drift; paired by seed against ${FRONTIER_BASE} (drift ratio; Δ = recipe − DPO in nats or ` +
      "percentage points); against DPO's β frontier of the same seed (quality at equal KL, KL at equal drift; " +
      'see the last tables):',
    '',
    ...(methods.some((m) => m.name === FRONTIER_BASE) ? summaryTable(res, methods) : []),
    '',
    'Per recipe: latent drift Σ‖h_θ − h_ref‖² / Σ‖h_ref‖² of the last hidden state on held-out prompt+response ' +
      'sequences; KL(π_θ ‖ π_ref) summed over completions the policy samples at T = 1 on held-out prompts ' +
      '(nats); preference accuracy on held-out pairs (%); judged win rate of T = 1.0 samples against the SFT ' +
      "model's (%, ties ½); the critics' loss (log 2 = 0.693: chance) and accuracy over the last 10 % of steps:",
    '',
    ...table(
      [
        'recipe',
        'drift',
        'KL (nats)',
        'pref acc',
        'win T=1.0',
        'drift shifted',
        'pref acc shifted',
        'win shifted',
        'critic loss',
        'critic acc',
        'train s',
      ],
      methods.map((m) => {
        const v = (pick: (r: RunResult) => number) => over(res, m.name, pick);
        const critic = (pick: (r: RunResult) => number, fmt: (xs: number[]) => string) => {
          const xs = v(pick).filter(Number.isFinite);
          return xs.length ? fmt(xs) : '–';
        };
        return [
          m.name,
          f(4)(v(drift)),
          f(2)(v(kl)),
          f(1, 100)(v(acc)),
          f(1, 100)(v(win)),
          f(4)(v((r) => r.drift.shifted)),
          f(1, 100)(v((r) => r.preferenceAccuracy.shifted)),
          f(1, 100)(v((r) => r.winRate.shifted['1.0'] ?? Number.NaN)),
          critic(criticLoss, f(3)),
          critic(criticAccuracy, f(1, 100)),
          meanStd(v((r) => r.trainSeconds)).mean.toFixed(0),
        ];
      }),
    ),
  ];
  if (methods.some((m) => m.name === FRONTIER_BASE)) {
    lines.push(
      '',
      `Paired against ${FRONTIER_BASE} (the demo's DPO; same seed): drift ratio = drift / drift(${FRONTIER_BASE}); ` +
        'Δ = recipe − DPO in nats (KL) or percentage points (accuracy, win rate):',
      '',
      ...table(
        pairedHead(res, 'recipe').filter((h) => h !== 'noise'),
        methods
          .filter((m) => m.name !== FRONTIER_BASE)
          .map((m) => [m.name, ...pairedCells(res, m.name, FRONTIER_BASE, 0)]),
      ),
    );
  }
  lines.push(
    '',
    "Against DPO's β frontier at equal cost: per seed, the recipe's quality minus that of DPO's β sweep of the " +
      "same seed, linearly interpolated at the recipe's KL (or drift) between the two β runs that bracket it " +
      "(percentage points; positive = above DPO's frontier; `(k/n)` = only k of the n seeds fell inside the β " +
      "sweep's range, `outside` = none did). The last column compares the two costs: the recipe's KL minus DPO's " +
      'at the same drift (nats; negative = less KL than raising β for the same latent drift):',
    '',
    ...table(
      [
        'recipe',
        'Δ pref acc at equal KL',
        'Δ win at equal KL',
        'Δ pref acc at equal drift',
        'Δ win at equal drift',
        'Δ KL at equal drift',
      ],
      methods
        .filter((m) => m.family !== 'dpo')
        .map((m) => [
          m.name,
          gapCell(res, m.name, { x: kl, y: acc }),
          gapCell(res, m.name, { x: kl, y: win }),
          gapCell(res, m.name, { x: drift, y: acc }),
          gapCell(res, m.name, { x: drift, y: win }),
          gapCell(res, m.name, { x: drift, y: kl }, { digits: 2, scale: 1 }),
        ]),
    ),
  );
  const frozen = frozenPairs(methods);
  if (frozen.length > 0)
    lines.push(
      '',
      "What the critic's learning adds: paired feature matching with learning critics against the same recipe " +
        'with its critics frozen at initialisation (same seed; ratio learning / frozen, Δ = learning − frozen):',
      '',
      ...table(
        pairedHead(res, 'comparison').filter((h) => h !== 'noise'),
        frozen.map(([l, z]) => [`${l.name} vs ${z.name}`, ...pairedCells(res, l.name, z.name, 0)]),
      ),
    );
  return `${lines.join('\n')}\n`;
}

/** Quality (preference accuracy, win rate) against log₁₀ drift and against KL, one series per frontier. */
export function frontierSvg(res: DemoResults): string {
  const methods = frontierOrder(res);
  const families = FRONTIER_FAMILIES.filter((fam) => methods.some((m) => m.family === fam));
  const panel = (
    title: string,
    x: { label: string; pick: (r: RunResult) => number },
    y: { label: string; pick: (r: RunResult) => number },
  ): ScatterPanel => ({
    title,
    xLabel: x.label,
    yLabel: y.label,
    series: families.map((fam) => ({
      name: FAMILY_LABEL[fam],
      points: methods
        .filter((m) => m.family === fam)
        .map((m) => {
          const xs = meanStd(over(res, m.name, x.pick));
          const ys = meanStd(over(res, m.name, y.pick));
          return { x: xs.mean, xErr: xs.std, y: ys.mean, yErr: ys.std, label: knobLabel(m) };
        }),
    })),
  });
  const logDrift = { label: 'log₁₀ latent drift (held-out)', pick: (r: RunResult) => Math.log10(drift(r)) };
  const klAxis = { label: 'KL(π_θ ‖ π_ref), nats per completion', pick: kl };
  const accAxis = { label: 'held-out preference accuracy (%)', pick: (r: RunResult) => 100 * acc(r) };
  const winAxis = { label: 'win rate vs SFT, T = 1.0 (%)', pick: (r: RunResult) => 100 * win(r) };
  return renderScatter(
    [
      panel('preference accuracy vs drift', logDrift, accAxis),
      panel('win rate vs drift', logDrift, winAxis),
      panel('preference accuracy vs KL', klAxis, accAxis),
      panel('win rate vs KL', klAxis, winAxis),
    ],
    {
      title: `Demo task: quality against latent drift and KL (mean ± std over ${res.config.seeds.length} seeds)`,
      columns: 2,
    },
  );
}
