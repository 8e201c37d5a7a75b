// examples/quickstart.ts (the README's "GANPO in your own loop") runs as a user would run it, on
// this project's backend, and its loop trains without leaking tensors.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('examples/quickstart.ts', () => {
  it('runs 3 steps with finite losses and a constant tensor count', () => {
    const backend = process.env.GANPO_BACKEND === 'wasm' ? 'wasm' : 'cpu';
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', 'examples/quickstart.ts', '--backend', backend, '--steps', '3'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const steps = [...out.matchAll(/^step (\d+) {2}loss (\S+) {2}D (\S+)\/(\S+) {2}tensors (\d+)$/gm)];
    expect(steps.map((m) => Number(m[1]))).toEqual([0, 1, 2]);
    for (const m of steps) {
      for (const value of [m[2], m[3], m[4]]) expect(Number.isFinite(Number(value)), `${m[0]}`).toBe(true);
    }
    // Every step frees what it allocated: the live tensor count after steps 1 and 2 is the same.
    expect(steps[2]?.[5]).toBe(steps[1]?.[5]);
  }, 300_000); // a separate Node process with its own tsx compile and backend start
});
