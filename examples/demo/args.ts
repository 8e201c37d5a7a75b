// Command-line options of `npm run demo`.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DemoMode } from './experiment';
import { DEMO_FAMILIES, type Family, FRONTIER_FAMILIES } from './methods';

/** Parsed options; `undefined` = use the preset's value. */
export interface DemoArgs {
  mode: DemoMode;
  backend?: string;
  /** The preference loss of every run. Default `dpo`. */
  objective?: 'dpo' | 'simpo';
  seeds?: number[];
  steps?: number;
  sftSteps?: number;
  /** Subset of the method families (base, official, default; with `--frontier`, its families). */
  families?: Family[];
  /** λ values of both GANPO families (overrides the preset's). */
  lambdas?: number[];
  /** With `--frontier`: the swept values (β or λ) of every selected family (overrides the preset's). */
  values?: number[];
  /** Label-noise rates in [0, 1]. */
  noise?: number[];
  temperatures?: number[];
  /** Output folder; default {@link defaultOutDir} of the mode. */
  out: string;
  /** Folder where SFT models are saved and reused (for a study split over several processes). */
  sftCache?: string;
  /** Re-renders results.md / results.svg from one results.json, or merges several, instead of running. */
  fromJson?: string[];
  help: boolean;
}

export const USAGE = `npm run demo -- [--full | --quick | --frontier] [--objective dpo|simpo] [--backend wasm|cpu|tensorflow]
                    [--seeds 1,2,3] [--steps N] [--sft-steps N] [--families base,official,default]
                    [--lambdas 0.03,0.1,0.3,1] [--noise 0,0.2,0.4] [--temps 0.7,1.0,1.5] [--out DIR]
                    [--sft-cache DIR] [--from-json a.json[,b.json...]]
  (no flag)    the main comparison: base loss vs official GANPO vs default GANPO, clean labels,
               3 seeds (≈ 8 min of CPU time: its wall time on an idle machine); writes results/
  --full       the whole study: λ sweep 0.03,0.1,0.3,1 of both GANPO configurations, 0/20/40 %
               flipped labels, 3 seeds; writes results/full/
  --quick      CI smoke run: one seed, few steps; writes to ${join('<os.tmpdir()>', 'ganpo-demo-quick')}
  --frontier   the frontier study: DPO's β sweep against DPO + latent anchor, GANPO official, and GANPO's
               default (MLP and transformer critics, learning and frozen at initialisation) over λ,
               each run paired by seed and read against DPO's β frontier at equal KL and drift;
               the default's steps and seeds, clean labels, T = 1.0; writes results/frontier/.
               --families takes a subset of ${FRONTIER_FAMILIES.join(',')}; --values 0.1,1
               replaces the swept values (β of dpo, λ of the others) of the selected families
  --objective  preference loss of every run (default dpo)
  --backend    default: tensorflow when @tensorflow/tfjs-node is installed, else wasm, else cpu
  --seeds      comma-separated seeds (default 1,2,3; --quick: 1)
  --steps      preference-training steps per run (default 150; --quick: 12)
  --sft-steps  SFT steps (default 400; --quick: 120)
  --families   comma-separated subset of base (λ = 0), official, default (--frontier: see above)
  --lambdas    λ values of both GANPO configurations (default: 1 each; --full: 0.03,0.1,0.3,1)
  --noise      comma-separated flipped-label rates (default 0; --full and --quick: 0,0.2,0.4)
  --temps      comma-separated sampling temperatures (default 0.7,1.0,1.5)
  --out        output folder for results.md / results.json / results.svg
  --sft-cache  save each seed's SFT model in DIR and reuse it in later processes (same results, less time)
  --from-json  re-render results.md and results.svg from earlier results.json files (no training);
               several files (e.g. one per seed) are merged into one study`;

/** Where a mode writes unless `--out` says otherwise; `--quick` never writes over committed results. */
export function defaultOutDir(mode: DemoMode): string {
  if (mode === 'quick') return join(tmpdir(), 'ganpo-demo-quick');
  if (mode === 'frontier') return join('results', 'frontier');
  return mode === 'full' ? join('results', 'full') : 'results';
}

function positiveInt(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} expects a positive integer, got ${v}`);
  return n;
}

function numbers(name: string, v: string, lo: number, hi: number): number[] {
  return v.split(',').map((s) => {
    const n = Number(s);
    if (s.trim() === '' || !(n >= lo && n <= hi))
      throw new Error(`--${name} expects numbers in [${lo}, ${hi}], got ${s}`);
    return n;
  });
}

/** Parses `argv` (without node and script); throws with a message on a bad option. */
export function parseDemoArgs(argv: readonly string[]): DemoArgs {
  const out: Omit<DemoArgs, 'out'> & { out?: string } = { mode: 'default', help: false };
  let modeFlag: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${a} expects a value`);
      return v;
    };
    switch (a) {
      case '--quick':
      case '--full':
      case '--frontier':
        if (modeFlag !== undefined && modeFlag !== a)
          throw new Error(`${modeFlag} and ${a} exclude each other`);
        modeFlag = a;
        out.mode = a.slice(2) as DemoMode;
        break;
      case '--objective': {
        const v = value();
        if (v !== 'dpo' && v !== 'simpo') throw new Error(`--objective expects dpo or simpo, got ${v}`);
        out.objective = v;
        break;
      }
      case '--help':
      case '-h':
        out.help = true;
        break;
      case '--backend':
        out.backend = value();
        break;
      case '--seeds':
        out.seeds = value()
          .split(',')
          .map((s) => {
            const n = Number(s);
            if (!Number.isInteger(n)) throw new Error(`--seeds expects integers, got ${s}`);
            return n;
          });
        break;
      case '--steps':
        out.steps = positiveInt('steps', value());
        break;
      case '--sft-steps':
        out.sftSteps = positiveInt('sft-steps', value());
        break;
      case '--families':
        out.families = value()
          .split(',')
          .map((f) => f as Family);
        break;
      case '--lambdas':
        out.lambdas = numbers('lambdas', value(), 0, 100);
        break;
      case '--values':
        out.values = numbers('values', value(), 1e-6, 1000);
        break;
      case '--noise':
        out.noise = numbers('noise', value(), 0, 1);
        break;
      case '--temps':
        out.temperatures = numbers('temps', value(), 0, 10);
        break;
      case '--out':
        out.out = value();
        break;
      case '--sft-cache':
        out.sftCache = value();
        break;
      case '--from-json':
        out.fromJson = value().split(',');
        break;
      default:
        throw new Error(`unknown option ${a}\n${USAGE}`);
    }
  }
  const families = out.mode === 'frontier' ? FRONTIER_FAMILIES : DEMO_FAMILIES;
  for (const f of out.families ?? [])
    if (!(families as readonly string[]).includes(f))
      throw new Error(`--families expects a subset of ${families.join(',')}, got ${f}`);
  if (out.values && out.mode !== 'frontier') throw new Error('--values applies to --frontier only');
  if (out.mode === 'frontier' && (out.lambdas || out.noise || out.objective))
    throw new Error(
      '--frontier sets its own sweeps, clean labels and DPO: drop --lambdas, --noise and --objective',
    );
  return { ...out, out: out.out ?? defaultOutDir(out.mode) };
}
