// `npm run demo`: the main job. The end-to-end study of the GANPO trainer: SFT of a tiny char LM on
// the digit-string task, then DPO alone, DPO + GANPO as the official code runs it, and DPO + GANPO
// with the package's defaults, from the same SFT start; each policy's latent drift and KL from the
// reference, preference accuracy and judged win rates (temperatures 0.7/1.0/1.5, held-out and shifted
// prompts), over several seeds. `--full` adds a λ sweep and label noise; `--frontier` compares DPO's
// β sweep with the latent anchor and GANPO over λ as frontiers. See examples/README.md.
//
//   npm run demo -- [--full | --quick | --frontier] [--help for every option]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setValidationLevel } from 'ganpo';
import { parseDemoArgs, USAGE } from './demo/args';
import { type DemoResults, demoConfig, runExperiment } from './demo/experiment';
import {
  FRONTIER_CRITIC_SEED,
  FRONTIER_SWEEPS,
  type FrontierSweeps,
  frontierMethods,
} from './demo/frontier-methods';
import { frontierMarkdown, frontierSvg } from './demo/frontier-report';
import { mergeResults, type SavedResults } from './demo/merge';
import { type Family, studyMethods } from './demo/methods';
import { conditionsSvg, resultsMarkdown, resultsSvg } from './demo/report';

const require = createRequire(import.meta.url);
const installed = (name: string): boolean => {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
};

/** tfjs-node when present (native TensorFlow), else wasm when installed, else cpu. */
async function selectBackend(requested: string | undefined): Promise<string> {
  const name =
    requested ??
    (installed('@tensorflow/tfjs-node')
      ? 'tensorflow'
      : installed('@tensorflow/tfjs-backend-wasm')
        ? 'wasm'
        : 'cpu');
  if (name === 'tensorflow') await import('@tensorflow/tfjs-node' as string);
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(name))) throw new Error(`cannot initialise backend '${name}'`);
  await tf.ready();
  return name;
}

async function main(): Promise<void> {
  const args = parseDemoArgs(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return;
  }
  if (args.fromJson) {
    const saved = mergeResults(args.fromJson.map((f) => JSON.parse(readFileSync(f, 'utf8')) as SavedResults));
    writeOutputs(args.out, saved, saved.command, args.fromJson.length > 1 ? saved : null);
    return;
  }
  const backend = await selectBackend(args.backend);
  // Inputs here are built by our own collator, so value checks (which read every tensor back) buy
  // nothing; the trainer's own finiteness guard stays on.
  setValidationLevel('shapes');
  const config = demoConfig(args.mode, args.objective);
  if (args.seeds) config.seeds = args.seeds;
  if (args.steps) config.steps = args.steps;
  if (args.sftSteps) config.sftSteps = args.sftSteps;
  if (args.noise) config.noiseLevels = args.noise;
  if (args.temperatures) config.temperatures = args.temperatures;
  if (args.lambdas) {
    const l = args.lambdas.filter((x) => x > 0);
    config.methods = studyMethods(args.objective ?? 'dpo', { official: l, default: l }, 7);
  }
  const values = args.values;
  if (values) {
    // --values replaces the sweep of the selected families (of all, without --families).
    const selected = (family: string) => args.families?.includes(family as Family) ?? true;
    const sweeps = Object.fromEntries(
      Object.entries(FRONTIER_SWEEPS).map(([family, v]) => [family, selected(family) ? values : v]),
    ) as FrontierSweeps;
    config.methods = frontierMethods(sweeps, FRONTIER_CRITIC_SEED);
  }
  if (args.families) config.methods = config.methods.filter((m) => args.families?.includes(m.family));
  const command =
    `npm run demo --${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`.replace(
      / --$/,
      '',
    );
  console.log(
    `ganpo demo (${args.mode}) on ${backend}: seeds ${config.seeds.join(',')}, SFT ${config.sftSteps} steps, ` +
      `${config.methods.length} methods × ${config.noiseLevels.length} noise levels × ${config.steps} steps`,
  );
  const results = await runExperiment(config, (line) => console.log(line), { sftCache: args.sftCache });
  writeOutputs(args.out, results, command, { command, ...results });
}

/** Prints the table and writes results.md, results.svg and (for a fresh or merged run) results.json into `dir`. */
function writeOutputs(
  dir: string,
  results: DemoResults | SavedResults,
  command: string,
  json: SavedResults | null,
): void {
  // A merged study re-rendered from its one results.json keeps its list of parts.
  const parts = json?.parts ?? ('parts' in results ? (results.parts ?? []) : []);
  mkdirSync(dir, { recursive: true });
  // The record first: a report that fails to render must not cost the runs.
  if (json) writeFileSync(join(dir, 'results.json'), `${JSON.stringify(json, null, 1)}\n`);
  if (results.config.mode === 'frontier') {
    const md = frontierMarkdown(results, command, parts);
    console.log(`\n${md}`);
    writeFileSync(join(dir, 'results.md'), `# ganpo demo: frontiers\n\n${md}`);
    writeFileSync(join(dir, 'frontier.svg'), frontierSvg(results));
    console.log(`wrote results.md, frontier.svg${json ? ', results.json' : ''} in ${dir}`);
    return;
  }
  const md = resultsMarkdown(results, command, parts);
  console.log(`\n${md}`);
  writeFileSync(join(dir, 'results.md'), `# ganpo demo results\n\n${md}`);
  writeFileSync(join(dir, 'results.svg'), resultsSvg(results));
  writeFileSync(join(dir, 'conditions.svg'), conditionsSvg(results));
  const files = ['results.md', ...(json ? ['results.json'] : []), 'results.svg', 'conditions.svg'].map((f) =>
    join(dir, f),
  );
  console.log(
    `wrote ${files.join(', ')} (experiment wall time ${(results.wallSeconds / 60).toFixed(1)} min)`,
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
