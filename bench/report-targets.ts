// The targets table of docs/benchmarks.md, read from the rows of the whole-step and discriminator
// suites (issue targets: whole steps within 1.5× PyTorch's, GANPO / DPO ≤ 1.5, memory within 1.5×;
// stretch: the critic step at parity).
import type { BenchRow } from './util';

/** The first number in a figure such as "1.53× [1.41–1.60] (threads: 2, 2, 1)". */
const lead = (s: unknown): number => Number.parseFloat(String(s ?? 'NaN'));

function wholeStep(rows: BenchRow[], size: string, variant: string): Record<string, string> | null {
  const r = rows.find(
    (x) =>
      x.suite === 'whole-step' &&
      x.backend === 'wasm' &&
      x.extra?.size === size &&
      x.extra?.variant === variant,
  );
  return (r?.extra as Record<string, string> | undefined) ?? null;
}

function row(target: string, limit: number, figure: string | undefined, where: string): string {
  const v = lead(figure);
  const status = Number.isNaN(v) ? 'not measured' : v <= limit ? '**met**' : '**not met**';
  return `| ${target} | ${status} | ${figure ?? '–'} | ${where} |`;
}

/** The targets table's lines (empty when neither suite ran). */
export function renderTargets(rows: BenchRow[]): string[] {
  const big = (v: string) => wholeStep(rows, '5M', v);
  if (!big('dpo')) return [];
  const vs = 'vs PyTorch (best of 1 and 2 threads)';
  const memory = ['dpo', 'mlp', 'transformer']
    .map((v) => big(v)?.['peak RSS vs PyTorch'])
    .filter((x): x is string => x !== undefined)
    .sort((a, b) => lead(b) - lead(a))[0];
  const critic = rows.find(
    (x) =>
      x.suite === 'discriminator' && x.backend === 'wasm' && x.extra?.['vs PyTorch, best of 1 and 2 threads'],
  )?.extra?.['vs PyTorch, best of 1 and 2 threads'];
  const lines = [
    '| target (4.9 M-parameter GPT, T 128, B 8 pairs, wasm) | status | median [min–max] over the runs | section |',
    '|---|---|---|---|',
    row('whole DPO step ≤ 1.5× PyTorch', 1.5, big('dpo')?.[vs], '"Whole training step"'),
    row('whole GANPO step ≤ 1.5× PyTorch, transformer critics', 1.5, big('transformer')?.[vs], 'same'),
    row('whole GANPO step ≤ 1.5× PyTorch, MLP critics', 1.5, big('mlp')?.[vs], 'same'),
    row('GANPO / DPO ≤ 1.5, transformer critics', 1.5, big('transformer')?.['GANPO / DPO'], 'same'),
    row('peak memory ≤ 1.5× PyTorch (largest of the three steps)', 1.5, memory, 'same'),
    row(
      'stretch: critic (discriminator) step at parity with PyTorch',
      1.0,
      critic === undefined ? undefined : String(critic),
      '"Discriminator step"',
    ),
  ];
  return [...lines, ''];
}
