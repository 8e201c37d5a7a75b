import * as tf from '@tensorflow/tfjs-core';
import {
  bcoLoss,
  disposePreferenceBatch,
  GanpoError,
  ktoLoss,
  ldDpoLogProbs,
  nllLoss,
  orpoLoss,
  simpoLoss,
  wpoLogWeights,
  wpoWeights,
} from 'ganpo';
import { fastLinear, geluErf, layerNorm, logSigmoid, selfAttentionCore, stopGradient } from 'ganpo/ops';
import { describe, expect, it } from 'vitest';

import { RunningMean } from '../src/divergence/running-mean';

import { log1mexp } from '../src/losses/orpo';

import { expectGanpoError } from './support/helpers';

// Public functions must refuse a missing or wrong-kind argument with a GanpoError naming the function
// and the argument, before any tensor is made, instead of a bare TypeError or a tfjs error.
// biome-ignore lint/suspicious/noExplicitAny: the point is to call with values the types forbid
type Loose = (x: any) => unknown;

const notObjects: [string, unknown][] = [
  ['null', null],
  ['undefined', undefined],
  ['a number', 3],
];
const notTensors: [string, unknown][] = [...notObjects, ['a plain array', [1, 2, 3]]];

function expectRefused(fn: () => unknown, where: string, argument: string): void {
  const err = expectGanpoError(fn, 'INVALID_ARGUMENT', argument);
  expect(err).toBeInstanceOf(GanpoError);
  expect(err.message.startsWith(`${where}:`)).toBe(true);
}

const argsFunctions: [string, Loose][] = [
  ['simpoLoss', simpoLoss as Loose],
  ['orpoLoss', orpoLoss as Loose],
  ['nllLoss', nllLoss as Loose],
  ['ldDpoLogProbs', ldDpoLogProbs as Loose],
  ['wpoWeights', wpoWeights as Loose],
  ['wpoLogWeights', wpoLogWeights as Loose],
  ['selfAttentionCore', selfAttentionCore as Loose],
  ['ktoLoss', ktoLoss as Loose],
  ['bcoLoss', bcoLoss as Loose],
];

const tensorFunctions: [string, Loose][] = [
  ['geluErf', geluErf as Loose],
  ['log1mexp', log1mexp as Loose],
  ['logSigmoid', logSigmoid as Loose],
  ['stopGradient', stopGradient as Loose],
];

describe('arguments objects: null, undefined, a number or an array are refused', () => {
  for (const [where, fn] of argsFunctions) {
    for (const [label, value] of [...notObjects, ['an array', [1, 2]] as [string, unknown]]) {
      it(`${where}(${label})`, () => {
        expectRefused(() => fn(value), where, 'args');
      });
    }
  }

  for (const [label, value] of notObjects) {
    it(`disposePreferenceBatch(${label})`, () => {
      expectRefused(() => disposePreferenceBatch(value as never), 'disposePreferenceBatch', 'batch');
    });
  }

  it('disposePreferenceBatch with a null side', () => {
    expectRefused(
      () => disposePreferenceBatch({ chosen: null, rejected: null } as never),
      'disposePreferenceBatch',
      'batch.chosen',
    );
  });

  it('ldDpoLogProbs with a null side', () => {
    expectRefused(
      () => ldDpoLogProbs({ chosen: null, rejected: null, alpha: 0.5 } as never),
      'ldDpoLogProbs',
      'chosen',
    );
  });

  for (const [label, value] of [
    ['null', null],
    ['a number', 3],
    ['an array', [0.9]],
  ] as [string, unknown][]) {
    it(`new RunningMean(${label})`, () => {
      expectRefused(() => new RunningMean(value as never), 'RunningMean', 'args');
    });
  }

  it('new RunningMean() without arguments still works', () => {
    expect(new RunningMean().momentum).toBe(0.9);
  });
});

describe('tensor arguments: null, undefined, a number or a plain array are refused', () => {
  for (const [where, fn] of tensorFunctions) {
    for (const [label, value] of notTensors) {
      it(`${where}(${label})`, () => {
        expectRefused(() => fn(value), where, 'x');
      });
    }
  }

  for (const [label, value] of notTensors) {
    it(`fastLinear with x = ${label}`, () => {
      const kernel = tf.zeros([2, 3]) as tf.Tensor2D;
      expectRefused(() => fastLinear(value as never, kernel), 'fastLinear', 'x');
      kernel.dispose();
    });
    it(`fastLinear with kernel = ${label}`, () => {
      const x = tf.zeros([4, 2]) as tf.Tensor2D;
      expectRefused(() => fastLinear(x, value as never), 'fastLinear', 'kernel');
      x.dispose();
    });
    it(`layerNorm with x = ${label}`, () => {
      const g = tf.ones([3]) as tf.Tensor1D;
      const b = tf.zeros([3]) as tf.Tensor1D;
      expectRefused(() => layerNorm(value as never, g, b), 'layerNorm', 'x');
      tf.dispose([g, b]);
    });
    it(`selfAttentionCore with qkv = ${label}`, () => {
      const keyBias = tf.zeros([1, 2]) as tf.Tensor2D;
      expectRefused(
        () =>
          selfAttentionCore({ qkv: value as never, batch: 1, seqLen: 2, numHeads: 1, keyBias, dropout: 0 }),
        'selfAttentionCore',
        'qkv',
      );
      keyBias.dispose();
    });
  }

  it('fastLinear with a plain-array bias', () => {
    const x = tf.zeros([4, 2]) as tf.Tensor2D;
    const kernel = tf.zeros([2, 3]) as tf.Tensor2D;
    expectRefused(() => fastLinear(x, kernel, [0, 0, 0] as never), 'fastLinear', 'bias');
    tf.dispose([x, kernel]);
  });

  it('layerNorm with a plain-array gamma and beta', () => {
    const x = tf.zeros([4, 3]) as tf.Tensor2D;
    const b = tf.zeros([3]) as tf.Tensor1D;
    expectRefused(() => layerNorm(x, [1, 1, 1] as never, b), 'layerNorm', 'gamma');
    expectRefused(() => layerNorm(x, b, [0, 0, 0] as never), 'layerNorm', 'beta');
    tf.dispose([x, b]);
  });

  it('nllLoss and wpoWeights with array fields', () => {
    expectRefused(() => nllLoss({ sum: [1] as never, count: [1] as never }), 'nllLoss', 'sum');
    expectRefused(
      () => wpoWeights({ chosenLogWeights: [0] as never, rejectedLogWeights: [0] as never }),
      'wpoWeights',
      'chosenLogWeights',
    );
  });
});
