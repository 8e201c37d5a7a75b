// `npm run sentiment`: the DPO paper's controlled sentiment generation (Rafailov et al. 2023, section
// 6.1) on real text: a byte-level tiny GPT pretrained on the Brown Corpus, preference pairs of its own
// samples labelled by VADER, and the reward/KL frontier of DPO's β sweep against DPO plus the latent
// anchor and GANPO. See examples/README.md ("sentiment/") for the swap-in points.
//
//   npm run sentiment -- [--quick] [--help for every option]
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setValidationLevel } from 'ganpo';
import { parseSentimentArgs, USAGE } from './args';
import { type Sweeps, sentimentConfig } from './config';
import { defaultInputs } from './defaults';
import { runBenchmark } from './experiment';
import { mergeResults, type SavedResults } from './merge';
import { SWEEP_OF } from './methods';
import { prepareData } from './prepare';
import { sentimentMarkdown, sentimentSvg } from './report';

/** tfjs-node when installed, else wasm, else cpu (as `npm run demo`). */
async function selectBackend(requested: string | undefined): Promise<string> {
  const require = createRequire(import.meta.url);
  const has = (name: string) => {
    try {
      require.resolve(name);
      return true;
    } catch {
      return false;
    }
  };
  const name =
    requested ??
    (has('@tensorflow/tfjs-node') ? 'tensorflow' : has('@tensorflow/tfjs-backend-wasm') ? 'wasm' : 'cpu');
  if (name === 'tensorflow') await import('@tensorflow/tfjs-node' as string);
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(name))) throw new Error(`cannot initialise backend '${name}'`);
  await tf.ready();
  return name;
}

function write(dir: string, saved: SavedResults, writeJson: boolean): void {
  mkdirSync(dir, { recursive: true });
  if (writeJson) writeFileSync(join(dir, 'results.json'), `${JSON.stringify(saved, null, 1)}\n`);
  const md = sentimentMarkdown(saved, saved.command);
  console.log(`\n${md}`);
  writeFileSync(join(dir, 'results.md'), `# Controlled sentiment generation: results\n\n${md}`);
  writeFileSync(join(dir, 'frontier.svg'), sentimentSvg(saved));
  console.log(
    `wrote ${join(dir, 'results.md')}, ${join(dir, 'frontier.svg')}${writeJson ? ', results.json' : ''}`,
  );
}

async function main(): Promise<void> {
  const args = parseSentimentArgs(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return;
  }
  if (args.fromJson) {
    const parts = args.fromJson.map((f) => JSON.parse(readFileSync(f, 'utf8')) as SavedResults);
    write(args.out, mergeResults(parts), parts.length > 1);
    return;
  }
  const backend = await selectBackend(args.backend);
  // Inputs come from our own collator: value checks (which read tensors back) buy nothing here.
  setValidationLevel('shapes');
  const config = sentimentConfig(args.mode);
  if (args.seeds) config.seeds = args.seeds;
  if (args.steps) config.training.steps = args.steps;
  if (args.betas) config.sweeps.beta = args.betas;
  if (args.lambdas) {
    const l = args.lambdas.filter((x) => x > 0);
    config.sweeps = { ...config.sweeps, anchor: l, mlp: l, transformer: l };
  }
  if (args.families) {
    const keep = new Set(args.families.map((f) => SWEEP_OF[f]));
    const sweeps = { ...config.sweeps };
    for (const key of Object.keys(sweeps) as (keyof Sweeps)[]) if (!keep.has(key)) sweeps[key] = [];
    config.sweeps = sweeps;
  }
  // The quick run starts from nothing every time unless told otherwise, so CI exercises every stage.
  const temporary = args.cache === undefined && args.mode === 'quick';
  const cacheDir = temporary
    ? mkdtempSync(join(tmpdir(), 'ganpo-sentiment-'))
    : (args.cache ?? join(tmpdir(), 'ganpo-sentiment-cache'));
  const command = `npm run sentiment${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  console.log(
    `ganpo sentiment benchmark (${args.mode}) on ${backend}: seeds ${config.seeds.join(',')}, cache ${cacheDir}`,
  );
  if (args.prepare) {
    const prepared = await prepareData(defaultInputs(), config, {
      cacheDir,
      log: (line) => console.log(line),
    });
    prepared.sft.dispose();
    console.log(`prepared the SFT model and the pairs in ${cacheDir}`);
    return;
  }
  // Swap the corpus, the scorer or the model here: { ...defaultInputs(), corpus: textCorpus('mine', texts) }.
  try {
    const results = await runBenchmark(defaultInputs(), config, {
      cacheDir,
      log: (line) => console.log(line),
      // The runs so far, after each one: a stopped process leaves them for --from-json.
      onRun: (sofar) => {
        mkdirSync(args.out, { recursive: true });
        writeFileSync(join(args.out, 'results.json'), `${JSON.stringify({ command, ...sofar }, null, 1)}\n`);
      },
    });
    write(args.out, { command, ...results }, true);
  } finally {
    if (temporary) rmSync(cacheDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
