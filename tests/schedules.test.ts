import { warmupCosineSchedule, warmupLinearSchedule } from 'ganpo';
import { describe, expect, it } from 'vitest';

import { expectClose, expectGanpoError, loadFixture } from './support/helpers';

interface SchedCase {
  kind: 'cosine' | 'linear';
  warmup: number;
  total: number;
  numCycles: number | null;
  learningRate: number;
  lrs: number[];
}
const cases = loadFixture<{ schedules: SchedCase[] }>('optim.json').schedules;

describe('learning-rate schedules', () => {
  it.each(cases.map((c) => [`${c.kind} warmup ${c.warmup} total ${c.total}`, c] as const))(
    'match transformers’ formulas under a PyTorch LambdaLR (%s)',
    (_, c) => {
      const s =
        c.kind === 'cosine'
          ? warmupCosineSchedule({
              learningRate: c.learningRate,
              warmupSteps: c.warmup,
              totalSteps: c.total,
              numCycles: c.numCycles ?? 0.5,
            })
          : warmupLinearSchedule({
              learningRate: c.learningRate,
              warmupSteps: c.warmup,
              totalSteps: c.total,
            });
      // Both in float64; LambdaLR multiplies base lr by the same lambda.
      expectClose(
        c.lrs.map((_, k) => s(k)),
        c.lrs,
        { rtol: 1e-12, atol: 1e-18 },
      );
    },
  );

  it('hand-checked points', () => {
    const cos = warmupCosineSchedule({ learningRate: 1, warmupSteps: 2, totalSteps: 6 });
    expect([cos(0), cos(1), cos(2), cos(4), cos(6)]).toEqual([
      0,
      0.5,
      1,
      0.5 * (1 + Math.cos(Math.PI / 2)),
      0,
    ]);
    // transformers' cosine is periodic: past totalSteps it rises again (0.5 cycles → cos(1.75π) at step 9).
    expect(cos(9)).toBeCloseTo(0.5 * (1 + Math.cos(1.75 * Math.PI)), 12);
    const lin = warmupLinearSchedule({ learningRate: 2, totalSteps: 4 });
    expect([lin(0), lin(1), lin(4), lin(5)]).toEqual([2, 1.5, 0, 0]);
  });

  it('rejects bad options and steps', () => {
    expectGanpoError(
      () => warmupCosineSchedule({ learningRate: 1, totalSteps: 0 }),
      'OUT_OF_RANGE',
      'totalSteps',
    );
    expectGanpoError(
      () => warmupLinearSchedule({ learningRate: 1, warmupSteps: 5, totalSteps: 4 }),
      'OUT_OF_RANGE',
      'warmupSteps',
    );
    expectGanpoError(
      () => warmupLinearSchedule({ learningRate: -1, totalSteps: 4 }),
      'OUT_OF_RANGE',
      'learningRate',
    );
    expectGanpoError(
      () => warmupCosineSchedule({ learningRate: 1, totalSteps: 4, numCycles: 0 }),
      'OUT_OF_RANGE',
      'numCycles',
    );
    const s = warmupCosineSchedule({ learningRate: 1, totalSteps: 4 });
    expectGanpoError(() => s(-1), 'OUT_OF_RANGE', 'step');
    expectGanpoError(() => s(1.5), 'OUT_OF_RANGE', 'step');
  });
});
