// examples/quickstart.ts, README's and the guide's quickstart, runs as a user runs it: its own
// Node process (tsx), its own backend choice (wasm), TRL-format data through ByteTokenizer, a
// tfjs-layers model and GanpoTrainer.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('examples/quickstart.ts', () => {
  it('trains 10 steps with finite losses and reports TRL reward accuracies', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'examples/quickstart.ts'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const steps = [...out.matchAll(/^step (\d+) {2}loss (\S+) {2}reward accuracy (\S+)$/gm)];
    expect(steps.map((m) => Number(m[1]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const m of steps) {
      expect(Number.isFinite(Number(m[2])), m[0]).toBe(true);
      expect(Number(m[3])).toBeGreaterThanOrEqual(0);
    }
    // The trainer's one-line summary, once, at the first step.
    expect(out.match(/GanpoTrainer: training [\d,]+ parameters/g)).toHaveLength(1);
  }, 300_000); // a separate Node process with its own tsx compile and backend start
});
