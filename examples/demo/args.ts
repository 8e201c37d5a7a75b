// Command-line options of `npm run demo`.

/** Parsed options; `undefined` = use the preset's value. */
export interface DemoArgs {
  quick: boolean;
  backend?: string;
  seeds?: number[];
  steps?: number;
  sftSteps?: number;
  /** Subset of method names (DPO, DPO+GANPO, SimPO, SimPO+GANPO). */
  methods?: string[];
  /** Label-noise rates in [0, 1]. */
  noise?: number[];
  temperatures?: number[];
  out: string;
  /** Re-renders results.md / results.svg from a results.json instead of running. */
  fromJson?: string;
  help: boolean;
}

export const USAGE = `npm run demo -- [--quick] [--backend wasm|cpu|tensorflow] [--seeds 1,2,3] [--steps N]
                    [--sft-steps N] [--out DIR]
  --quick      one seed, few steps (CI; a few minutes at most)
  --backend    default: tensorflow when @tensorflow/tfjs-node is installed, else wasm, else cpu
  --seeds      comma-separated seeds (default 1,2,3; --quick: 1)
  --steps      preference-training steps per run (default 150; --quick: 12)
  --sft-steps  SFT steps (default 400; --quick: 120)
  --methods    comma-separated subset of DPO,DPO+GANPO,SimPO,SimPO+GANPO (default all)
  --noise      comma-separated flipped-label rates (default 0,0.2,0.4)
  --temps      comma-separated sampling temperatures (default 0.7,1.0,1.5)
  --out        output folder for results.md / results.json / results.svg (default results)
  --from-json  re-render results.md and results.svg from an earlier results.json (no training)`;

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
  const out: DemoArgs = { quick: false, out: 'results', help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${a} expects a value`);
      return v;
    };
    switch (a) {
      case '--quick':
        out.quick = true;
        break;
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
      case '--methods':
        out.methods = value().split(',');
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
      case '--from-json':
        out.fromJson = value();
        break;
      default:
        throw new Error(`unknown option ${a}\n${USAGE}`);
    }
  }
  return out;
}
