// Markdown tables of the shipped docs render as written (a cell count that differs from the header's
// shifts every cell after it: GitHub splits cells at a `|` even inside a code span unless it is
// escaped), and docs/pytorch-interop.md's state-dict table lists exactly the keys and shapes of
// TransformerDiscriminator.stateDict().
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { TransformerDiscriminator } from 'ganpo';
import { describe, expect, it } from 'vitest';

/** The cells of a table row, split at unescaped pipes (GFM splits inside code spans too). */
const cells = (row: string): string[] =>
  row
    .trim()
    .replace(/^\||\|$/g, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());

/** Every table of a Markdown text (outside fenced code): its lines, first the header. */
function tables(text: string): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    if (!fenced && line.trimStart().startsWith('|')) current.push(line);
    else if (current.length) {
      out.push(current);
      current = [];
    }
  }
  if (current.length) out.push(current);
  return out;
}

describe('Markdown tables', () => {
  const files = [
    'README.md',
    ...readdirSync('docs')
      .filter((f) => f.endsWith('.md'))
      .map((f) => join('docs', f)),
  ];

  it('every row of every table has as many cells as its header', () => {
    let rows = 0;
    for (const file of files) {
      for (const table of tables(readFileSync(file, 'utf8'))) {
        const width = cells(table[0] as string).length;
        for (const row of table) {
          expect(cells(row).length, `${file}: ${row.slice(0, 80)}`).toBe(width);
          rows++;
        }
      }
    }
    expect(rows).toBeGreaterThan(50);
  });

  it("docs/pytorch-interop.md's key table is TransformerDiscriminator's state dict", () => {
    const text = readFileSync('docs/pytorch-interop.md', 'utf8');
    const table = tables(text).find((t) => cells(t[0] as string)[0] === 'key');
    expect(table).toBeDefined();
    const dims = { h: 8, D: 6, ffn: 12, maxSeqLen: 5 };
    const size = (s: string) =>
      s
        .replace(/^\[|\]$/g, '')
        .split(',')
        .map((d) => {
          const m = /^(\d*)(h|D|ffn|maxSeqLen)$/.exec(d.trim());
          if (!m) return Number(d);
          return (m[1] ? Number(m[1]) : 1) * dims[m[2] as keyof typeof dims];
        });
    const documented = new Map(
      (table as string[]).slice(2).map((row) => {
        const [key, shape] = cells(row);
        return [(key as string).replace(/`/g, '').replace('ℓ', '0'), size(shape as string)];
      }),
    );
    const d = new TransformerDiscriminator({
      latentDim: dims.D,
      hiddenDim: dims.h,
      numLayers: 1,
      numHeads: 2,
      ffnDim: dims.ffn,
      maxSeqLen: dims.maxSeqLen,
      seed: 0,
    });
    const state = d.stateDict();
    const actual = new Map(Object.entries(state).map(([k, t]) => [k, [...t.shape]]));
    tf.dispose(Object.values(state));
    d.dispose();
    expect([...documented.keys()].sort()).toEqual([...actual.keys()].sort());
    for (const [key, shape] of actual) expect(documented.get(key), key).toEqual(shape);
  });
});
