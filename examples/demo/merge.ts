// Merging several results.json files (e.g. one process per seed, or the base and official runs done
// before the default ones) into one study, refusing parts that do not describe the same experiment.
import type { DemoConfig, DemoResults, RunResult, SftResult } from './experiment';
import { FAMILIES } from './methods';

/** A results.json as written by the demo: the results plus the command that produced them. */
export type SavedResults = DemoResults & { command: string; parts?: SavedPart[] };
/** One process of a merged study. */
export interface SavedPart {
  command: string;
  wallSeconds: number;
}

/** Settings that must agree between parts for their runs to be comparable. */
const SHARED: readonly (keyof DemoConfig)[] = [
  'sftSteps',
  'sftLearningRate',
  'steps',
  'batchSize',
  'learningRate',
  'trainSize',
  'evalSize',
  'temperatures',
  'trainDigits',
  'shiftedDigits',
  'model',
];

const union = <T>(lists: readonly (readonly T[])[], key: (x: T) => string): T[] => {
  const seen = new Map<string, T>();
  for (const list of lists) for (const x of list) if (!seen.has(key(x))) seen.set(key(x), x);
  return [...seen.values()];
};

const runKey = (r: RunResult): string => `${r.seed}|${r.noise}|${r.method}`;

/**
 * One study from several saved parts: the union of their seeds, noise levels, methods and runs.
 * Throws when the parts' shared settings or backends differ, when two parts' SFT starts of the same
 * seed differ (the runs would not share a start), or when a run appears twice with different results.
 */
export function mergeResults(parts: readonly SavedResults[]): SavedResults {
  const first = parts[0];
  if (!first) throw new Error('mergeResults: no results to merge');
  if (parts.length === 1) return first;
  for (const p of parts.slice(1)) {
    for (const k of SHARED) {
      if (JSON.stringify(p.config[k]) !== JSON.stringify(first.config[k]))
        throw new Error(
          `mergeResults: parts differ in ${k}: ${JSON.stringify(first.config[k])} vs ${JSON.stringify(p.config[k])}`,
        );
    }
    if (p.backend !== first.backend)
      throw new Error(`mergeResults: parts ran on different backends (${first.backend}, ${p.backend})`);
  }
  const sft = new Map<number, SftResult>();
  for (const s of parts.flatMap((p) => p.sft)) {
    const seen = sft.get(s.seed);
    if (!seen) sft.set(s.seed, s);
    else if (
      seen.finalLoss !== s.finalLoss ||
      JSON.stringify(seen.generation) !== JSON.stringify(s.generation)
    )
      throw new Error(`mergeResults: the SFT start of seed ${s.seed} differs between parts`);
  }
  const runs = new Map<string, RunResult>();
  for (const r of parts.flatMap((p) => p.runs)) {
    const seen = runs.get(runKey(r));
    if (!seen) runs.set(runKey(r), r);
    else if (
      JSON.stringify({ ...seen, seconds: 0, trainSeconds: 0 }) !==
      JSON.stringify({ ...r, seconds: 0, trainSeconds: 0 })
    )
      throw new Error(`mergeResults: run ${runKey(r)} appears twice with different results`);
  }
  const config: DemoConfig = {
    ...first.config,
    seeds: union(
      parts.map((p) => p.config.seeds),
      String,
    ).sort((a, b) => a - b),
    noiseLevels: union(
      parts.map((p) => p.config.noiseLevels),
      String,
    ).sort((a, b) => a - b),
    methods: union(
      parts.map((p) => p.config.methods),
      (m) => m.name,
    ).sort((a, b) => FAMILIES.indexOf(a.family) - FAMILIES.indexOf(b.family) || a.lambda - b.lambda),
  };
  const partList = parts.flatMap((p) => p.parts ?? [{ command: p.command, wallSeconds: p.wallSeconds }]);
  return {
    command: partList.map((p) => p.command).join(' + '),
    parts: partList,
    config,
    backend: first.backend,
    sft: [...sft.values()].sort((a, b) => a.seed - b.seed),
    runs: [...runs.values()],
    wallSeconds: partList.reduce((s, p) => s + p.wallSeconds, 0),
  };
}
