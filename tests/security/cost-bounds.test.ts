// Hostile files cost what is read, not what their headers ask for: each is refused (or accepted,
// where documented) by the file readers of `ganpo/node` within a CPU-time and a memory bound. The
// reads happen in a fresh child process, so that its peak RSS measures them and nothing else.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors } from 'ganpo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectRefusal, hostileTally } from '../support/hostile';
import { type FileCase, writeHostileFiles } from './hostile-files';

const here = dirname(fileURLToPath(import.meta.url));
const tally = hostileTally('file costs');

/**
 * Generous bounds: every case measured here costs at most about 450 ms of CPU and 70 MB on a
 * loaded 2-core machine; before these bounds the same files cost 1.7 to 95 s and 0.3 to 2.2 GB.
 */
const MAX_CPU_MS = 1000;
const MAX_RSS_RISE_MB = 100;

interface Outcome {
  name: string;
  code?: string;
  argument?: string;
  error?: string;
  message?: string;
  accepted?: boolean;
  cpuMs: number;
  wallMs: number;
  rssRiseMB: number;
}

describe.runIf(tf.getBackend() === 'cpu')('hostile files: cost bounded by what is read', () => {
  let root: string;
  let cases: FileCase[];
  let outcomes: Map<string, Outcome>;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'ganpo-cost-'));
    cases = writeHostileFiles(root);
    writeFileSync(join(root, 'cases.json'), JSON.stringify(cases));
    mkdirSync(join(root, 'scratch'));
    const out = execFileSync(
      process.execPath,
      [
        '--expose-gc',
        '--import',
        'tsx',
        join(here, 'cost-child.ts'),
        join(root, 'cases.json'),
        join(root, 'scratch'),
      ],
      { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const lines = out.split('\n').filter((l) => l.startsWith('{'));
    outcomes = new Map(lines.map((l) => JSON.parse(l) as Outcome).map((o) => [o.name, o]));
  }, 180_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('every case: the documented refusal (or acceptance), within the CPU and memory bounds', () => {
    expect(cases.length).toBeGreaterThanOrEqual(24);
    for (const c of cases) {
      const o = outcomes.get(c.name);
      tally.tried++;
      expect(o, `no outcome for ${c.name}`).toBeDefined();
      const outcome = o as Outcome;
      const label = `${c.name}: ${outcome.message ?? 'accepted'}`;
      if (c.code === null) expect(outcome.accepted, label).toBe(true);
      else {
        expect(outcome.error, label).toBe('GanpoError');
        expect(outcome.code, label).toBe(c.code);
        expect(outcome.argument, label).toBe(c.argument);
      }
      expect(outcome.cpuMs, `${label}: CPU time`).toBeLessThan(MAX_CPU_MS);
      expect(outcome.rssRiseMB, `${label}: peak RSS rise`).toBeLessThan(MAX_RSS_RISE_MB);
      tally.clean++;
    }
  });

  it('the same safetensors headers in memory (readSafetensors): refused, nothing allocated', async () => {
    for (const c of cases.filter((k) => k.kind === 'safetensors')) {
      const bytes = readFileSync(c.path);
      if (bytes.byteLength > 30_000_000) continue; // the 100 MB ones: their length alone is refused
      await expectRefusal(tally, () => readSafetensors(bytes), 'INVALID_FORMAT', {
        argument: c.argument,
        maxMs: 5000,
      });
    }
  });
});
