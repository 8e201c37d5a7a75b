// Merging the results of a study split over processes (one seed each, sharing the cache folder).
import type { Sweeps } from './config';
import type { SentimentResults } from './experiment';

/** A results.json: the results and the command that made them. */
export interface SavedResults extends SentimentResults {
  command: string;
}

/**
 * Merges the results of processes that ran parts of one study (e.g. one seed each, sharing `--cache`):
 * they must agree on the data and the SFT model; runs are concatenated, a (seed, method) only once.
 */
export function mergeResults(parts: readonly SavedResults[]): SavedResults {
  const [first, ...rest] = parts;
  if (!first) throw new Error('mergeResults: nothing to merge');
  const key = (p: SavedResults) =>
    JSON.stringify([
      p.backend,
      { ...p.data, pairSeconds: 0 },
      p.sft.model,
      p.sft.parameters,
      p.sft.finalLoss,
      p.config.training,
    ]);
  const runs = [...first.runs];
  for (const p of rest) {
    if (key(p) !== key(first))
      throw new Error('mergeResults: parts differ in backend, data, SFT model or training');
    for (const r of p.runs) {
      if (runs.some((x) => x.seed === r.seed && x.method === r.method)) {
        throw new Error(`mergeResults: seed ${r.seed} ${r.method} appears twice`);
      }
      runs.push(r);
    }
  }
  const seeds = [...new Set(runs.map((r) => r.seed))].sort((a, b) => a - b);
  // Each part ran some families (`--families`): the study's sweeps are their union.
  const sweeps = { ...first.config.sweeps };
  const keys = new Set(parts.flatMap((p) => Object.keys(p.config.sweeps) as (keyof Sweeps)[]));
  for (const key of keys) {
    const values = parts.flatMap((p) => p.config.sweeps[key] ?? []);
    sweeps[key] = [...new Set(values)].sort((a, b) => a - b);
  }
  return {
    ...first,
    config: { ...first.config, seeds, sweeps },
    runs,
    command: parts.map((p) => p.command).join(' + '),
    prepareSeconds: Math.max(...parts.map((p) => p.prepareSeconds)),
    wallSeconds: parts.reduce((s, p) => s + p.wallSeconds, 0),
  };
}
