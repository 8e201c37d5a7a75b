// Command-line options of `npm run sentiment` (Node's util.parseArgs, checked here).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FAMILIES, type Family } from './methods';

export interface SentimentArgs {
  mode: 'full' | 'quick';
  backend?: string;
  seeds?: number[];
  steps?: number;
  families?: Family[];
  betas?: number[];
  lambdas?: number[];
  out: string;
  /** The cache folder, when given. */
  cache?: string;
  fromJson?: string[];
  /** Only prepare the data (SFT model and pairs) in the cache folder, then stop. */
  prepare: boolean;
  help: boolean;
}

export const USAGE = `npm run sentiment -- [--quick] [--seeds 1,2,3] [--families dpo,anchor,...]
                       [--betas 0.03,0.1,0.3,1,3] [--lambdas 0.3,1,3] [--steps N] [--backend wasm|cpu|tensorflow]
                       [--out DIR] [--cache DIR] [--prepare] [--from-json a.json[,b.json...]]
  (no flag)    the full frontier (3 seeds) on the Brown Corpus with the VADER reward; writes results/sentiment/
  --quick      CI smoke run: tiny SFT, few pairs, one seed, 6 steps per recipe; writes to
               ${join('<os.tmpdir()>', 'ganpo-sentiment-quick')}
  --seeds      seeds of the preference runs (the SFT model and the pairs are shared by all seeds)
  --families   subset of the recipes: dpo (β sweep), anchor, official, mlp, transformer (λ sweeps),
               mlp-frozen, transformer-frozen (the previous default with critics frozen at initialisation),
               mlp-target, transformer-target (the regularizer's current default)
  --betas      β values of the DPO sweep; --lambdas: λ values of the anchor, mlp and transformer sweeps
  --steps      preference-training steps per run
  --cache      folder of the SFT model and the pairs JSONL, reused by later processes
               (default ${join('<os.tmpdir()>', 'ganpo-sentiment-cache')}; --quick: a new temporary folder,
               removed at the end, so that CI runs every stage)
  --prepare    only train the SFT model and sample the pairs into --cache, then stop (run it once
               before starting one process per seed, so that they do not all train the SFT model)
  --from-json  re-render results.md / frontier.svg from results.json files (several: one study merged)`;

/** Comma-separated numbers in [lo, hi]. */
function numbers(name: string, v: string | undefined, lo: number, hi: number, integer = false) {
  if (v === undefined) return undefined;
  return v.split(',').map((s) => {
    const n = Number(s);
    if (s.trim() === '' || !(n >= lo && n <= hi) || (integer && !Number.isInteger(n))) {
      throw new Error(`--${name} expects ${integer ? 'integers' : 'numbers'} in [${lo}, ${hi}], got ${s}`);
    }
    return n;
  });
}

/** Parses `argv` (without node and script); throws with a message on a bad option. */
export function parseSentimentArgs(argv: readonly string[]): SentimentArgs {
  const string = { type: 'string' } as const;
  const flag = { type: 'boolean' } as const;
  const options = {
    quick: flag,
    prepare: flag,
    help: { ...flag, short: 'h' },
    backend: string,
    seeds: string,
    steps: string,
    families: string,
    betas: string,
    lambdas: string,
    out: string,
    cache: string,
    'from-json': string,
  } as const;
  let values: ReturnType<typeof parseArgs<{ options: typeof options }>>['values'];
  try {
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${USAGE}`);
  }
  const mode = values.quick ? 'quick' : 'full';
  const [steps] = numbers('steps', values.steps, 1, 1e6, true) ?? [];
  const families = values.families?.split(',').map((f) => {
    if (!(FAMILIES as readonly string[]).includes(f)) {
      throw new Error(`--families expects a subset of ${FAMILIES.join(',')}, got ${f}`);
    }
    return f as Family;
  });
  return {
    mode,
    prepare: values.prepare === true,
    help: values.help === true,
    backend: values.backend,
    seeds: numbers('seeds', values.seeds, -1e9, 1e9, true),
    steps,
    families,
    betas: numbers('betas', values.betas, 1e-6, 100),
    lambdas: numbers('lambdas', values.lambdas, 0, 100),
    out:
      values.out ??
      (mode === 'quick' ? join(tmpdir(), 'ganpo-sentiment-quick') : join('results', 'sentiment')),
    cache: values.cache,
    fromJson: values['from-json']?.split(','),
  };
}
