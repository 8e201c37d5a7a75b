// The source layers' import rules (src/index.ts lists the layers): algorithm code asks the
// discriminators (or the trainer) for the wasm fast paths instead of importing that plumbing, and
// the types data, hooks and trainer share live below all three.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function sources(dir: string): string[] {
  return readdirSync(join('src', dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The modules a source file imports, as paths relative to src/ (without the extension). */
function imports(file: string): string[] {
  const text = readFileSync(join('src', file), 'utf8');
  const dir = file.split('/').slice(0, -1);
  return [...text.matchAll(/from '(\.\.?\/[^']+)'/g)].map((m) => {
    const parts = [...dir];
    for (const p of (m[1] as string).split('/')) {
      if (p === '..') parts.pop();
      else if (p !== '.') parts.push(p);
    }
    return parts.join('/');
  });
}

/** The math ops and tape helpers algorithm code may use (no backend plumbing, no benchmark switch). */
const ALGORITHM_OPS = new Set(['ops/log-sigmoid', 'ops/stop-gradient', 'ops/sort', 'ops/tape']);

describe('source layers', () => {
  it('algorithm code (losses, divergence, latent, regularizer, logprobs) imports no wasm plumbing', () => {
    const bad: string[] = [];
    for (const dir of ['losses', 'divergence', 'latent', 'regularizer', 'logprobs']) {
      for (const file of sources(dir)) {
        for (const m of imports(file)) {
          if (m.startsWith('ops/') && !ALGORITHM_OPS.has(m)) bad.push(`${file} → ${m}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('core, data, hooks and the layers below the trainer never import the trainer', () => {
    const bad: string[] = [];
    for (const dir of [
      'core',
      'data',
      'hooks',
      'discriminators',
      'losses',
      'divergence',
      'latent',
      'regularizer',
    ]) {
      for (const file of sources(dir)) {
        for (const m of imports(file)) if (m.startsWith('trainer/')) bad.push(`${file} → ${m}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
