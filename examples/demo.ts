// `npm run demo`: the main job. The end-to-end experiment of the GANPO trainer: SFT of a tiny char LM
// on the digit-string task, then DPO, DPO+GANPO, SimPO and SimPO+GANPO from the same SFT start under
// 0/20/40 % flipped labels, judged against the SFT model at temperatures 0.7/1.0/1.5 on held-out and
// shifted (longer) prompts, over several seeds. Writes results/results.{md,json,svg}.
//
//   npm run demo -- [--quick] [--backend wasm|cpu|tensorflow] [--seeds 1,2,3] [--steps N] [--sft-steps N]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setValidationLevel } from 'ganpo';
import { parseDemoArgs, USAGE } from './demo/args';
import { type DemoResults, demoConfig, runExperiment } from './demo/experiment';
import { resultsMarkdown, resultsSvg } from './demo/report';

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
    const saved = JSON.parse(readFileSync(args.fromJson, 'utf8')) as DemoResults & { command: string };
    writeOutputs(args.out, saved, saved.command, false);
    return;
  }
  const backend = await selectBackend(args.backend);
  // Inputs here are built by our own collator, so value checks (which read every tensor back) buy
  // nothing; the trainer's own finiteness guard stays on.
  setValidationLevel('shapes');
  const config = demoConfig(args.quick);
  if (args.seeds) config.seeds = args.seeds;
  if (args.steps) config.steps = args.steps;
  if (args.sftSteps) config.sftSteps = args.sftSteps;
  if (args.noise) config.noiseLevels = args.noise;
  if (args.temperatures) config.temperatures = args.temperatures;
  if (args.methods) {
    const known = config.methods.map((m) => m.name);
    const unknown = args.methods.filter((m) => !known.includes(m));
    if (unknown.length > 0)
      throw new Error(`unknown method(s) ${unknown.join(', ')}; known: ${known.join(', ')}`);
    config.methods = config.methods.filter((m) => args.methods?.includes(m.name));
  }
  const command =
    `npm run demo --${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`.replace(
      / --$/,
      '',
    );
  console.log(
    `ganpo demo on ${backend}: seeds ${config.seeds.join(',')}, SFT ${config.sftSteps} steps, ` +
      `${config.methods.length} methods × ${config.noiseLevels.length} noise levels × ${config.steps} steps`,
  );
  const results = await runExperiment(config, (line) => console.log(line));
  writeOutputs(args.out, results, command, true);
}

/** Prints the table and writes results.md, results.svg and (for a fresh run) results.json into `dir`. */
function writeOutputs(dir: string, results: DemoResults, command: string, json: boolean): void {
  const md = resultsMarkdown(results, command);
  console.log(`\n${md}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'results.md'), `# ganpo demo results\n\n${md}`);
  if (json) writeFileSync(join(dir, 'results.json'), `${JSON.stringify({ command, ...results }, null, 1)}\n`);
  writeFileSync(join(dir, 'results.svg'), resultsSvg(results));
  const files = ['results.md', ...(json ? ['results.json'] : []), 'results.svg'].map((f) => join(dir, f));
  console.log(
    `wrote ${files.join(', ')} (experiment wall time ${(results.wallSeconds / 60).toFixed(1)} min)`,
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
