// Hostile files on disk, written in chunks so that the test process never holds a 100 MB file
// itself: the cost test reads them in a fresh child process and bounds its time and memory.
import { closeSync, ftruncateSync, linkSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { GanpoErrorCode } from 'ganpo';

/** One hostile file and the refusal expected from its reader. */
export interface FileCase {
  name: string;
  /** Which reader: a discriminator folder, a safetensors file, a preference JSONL file. */
  kind: 'folder' | 'safetensors' | 'jsonl';
  /** The folder (kind 'folder', 'jsonl') or the file (kind 'safetensors'). */
  path: string;
  /** The JSONL file inside `path`. */
  file?: string;
  /** The refusal's code and argument, or null for a file that is accepted (within the bounds). */
  code: GanpoErrorCode | null;
  argument: string;
}

/** The bytes of a file that are written; past them a large file is a hole (see {@link writeChunks}). */
const WRITTEN = 4 * 2 ** 20;

/**
 * Writes `parts` (consumed lazily) to `path` until {@link WRITTEN} bytes are written, then extends
 * the file to `size` bytes (default: what was written) with a hole. The readers refuse every case
 * within its first megabytes (that is what the test bounds), so the hole is never reached; a reader
 * that read on would meet zeros where the content was due, and fail with another error than the
 * one expected, past the time and memory bounds.
 */
function writeChunks(path: string, parts: Iterable<Part>, size?: number): void {
  const fd = openSync(path, 'w');
  try {
    let at = 0;
    for (const part of parts) {
      if (at >= WRITTEN) break;
      const bytes = typeof part === 'string' ? Buffer.from(part, 'latin1') : part;
      writeSync(fd, bytes);
      at += bytes.byteLength;
    }
    if (size !== undefined && size > at) ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}

/** The 8-byte little-endian header length of a safetensors file. */
function lengthPrefix(n: number | bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

type Part = string | Uint8Array;

/** The parts in order, iterables among them expanded lazily (an array spread would expand them all). */
function* seq(...items: (Part | Iterable<string>)[]): Generator<Part> {
  for (const item of items) {
    if (typeof item === 'string' || item instanceof Uint8Array) yield item;
    else yield* item;
  }
}

/** `count` copies of `text`, in chunks of about 1 MB. */
function* repeated(text: string, count: number): Generator<string> {
  const per = Math.max(1, Math.floor(2 ** 20 / text.length));
  for (let done = 0; done < count; done += per) yield text.repeat(Math.min(per, count - done));
}

/** A discriminator-like model.json around `manifest` (the topology is never reached). */
function modelJson(manifest: unknown): string {
  return JSON.stringify({ modelTopology: { format: 'ganpo-discriminator' }, weightsManifest: manifest });
}

function folder(root: string, name: string): string {
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'weights.bin'), new Uint8Array(20_000));
  return dir;
}

/** Writes every hostile file under `root` and returns the cases. */
export function writeHostileFiles(root: string): FileCase[] {
  const cases: FileCase[] = [];
  const add = (c: FileCase) => cases.push(c);
  const huge = [{ name: 'x', shape: [2.5e8], dtype: 'float32' }];

  // The case: one 20 KB weights.bin listed 50 000 times under a 2.5e8-float spec.
  let dir = folder(root, 'repeat-50000');
  writeFileSync(
    join(dir, 'model.json'),
    modelJson([{ paths: new Array(50_000).fill('weights.bin'), weights: huge }]),
  );
  add({
    name: 'repeat-50000',
    kind: 'folder',
    path: dir,
    code: 'INVALID_FORMAT',
    argument: 'weightsManifest',
  });
  // Under the file-count bound: the second listing of the same file is refused.
  for (const [name, second] of [
    ['repeat-1000', 'weights.bin'],
    ['repeat-dot', './weights.bin'],
    ['repeat-subdir', 'sub/../weights.bin'],
  ] as const) {
    dir = folder(root, name);
    mkdirSync(join(dir, 'sub'));
    const paths = name === 'repeat-1000' ? new Array(1000).fill('weights.bin') : ['weights.bin', second];
    writeFileSync(join(dir, 'model.json'), modelJson([{ paths, weights: huge }]));
    add({ name, kind: 'folder', path: dir, code: 'INVALID_FORMAT', argument: 'weightsManifest[0].paths[1]' });
  }
  dir = folder(root, 'hard-links');
  for (let i = 0; i < 3; i++) linkSync(join(dir, 'weights.bin'), join(dir, `w${i}.bin`));
  writeFileSync(
    join(dir, 'model.json'),
    modelJson([
      { paths: ['w0.bin'], weights: [] },
      { paths: ['w1.bin', 'w2.bin'], weights: huge },
    ]),
  );
  add({
    name: 'hard-links',
    kind: 'folder',
    path: dir,
    code: 'INVALID_FORMAT',
    argument: 'weightsManifest[1].paths[0]',
  });
  for (const [name, weights] of [
    ['spec-2.5e8', huge],
    ['spec-1e15-cubed', [{ name: 'x', shape: [1e15, 1e15, 1e15], dtype: 'float32' }]],
    [
      'spec-many-small',
      [
        { name: 'a', shape: [5000], dtype: 'float32' },
        { name: 'b', shape: [2 ** 52], dtype: 'int32' },
      ],
    ],
  ] as const) {
    dir = folder(root, name);
    writeFileSync(join(dir, 'model.json'), modelJson([{ paths: ['weights.bin'], weights }]));
    add({
      name,
      kind: 'folder',
      path: dir,
      code: 'INVALID_FORMAT',
      argument: name === 'spec-many-small' ? 'weightSpecs[1]' : 'weightSpecs[0]',
    });
  }
  dir = folder(root, 'specs-40000');
  writeFileSync(
    join(dir, 'model.json'),
    modelJson([
      {
        paths: ['weights.bin'],
        weights: Array.from({ length: 40_000 }, (_, i) => ({ name: `w${i}`, shape: [0], dtype: 'float32' })),
      },
    ]),
  );
  // 120 000 keys: refused by model.json's key bound before the spec count is reached.
  add({ name: 'specs-40000', kind: 'folder', path: dir, code: 'INVALID_FORMAT', argument: 'model.json' });
  dir = folder(root, 'model-json-deep');
  writeChunks(join(dir, 'model.json'), seq('{"a":', repeated('[', 5_000_000)), 5_000_005);
  add({ name: 'model-json-deep', kind: 'folder', path: dir, code: 'INVALID_FORMAT', argument: 'model.json' });
  dir = folder(root, 'model-json-values');
  writeChunks(join(dir, 'model.json'), seq('{"a":[0', repeated(',0', 3_000_000), ']}'), 6_000_008);
  add({
    name: 'model-json-values',
    kind: 'folder',
    path: dir,
    code: 'INVALID_FORMAT',
    argument: 'model.json',
  });
  dir = folder(root, 'model-json-sparse-1GB');
  writeChunks(join(dir, 'model.json'), ['{'], 2 ** 30);
  add({ name: 'model-json-sparse-1GB', kind: 'folder', path: dir, code: 'INVALID_FORMAT', argument: 'dir' });

  // safetensors: the two headers, whole (100 MB each) though over today's header bound.
  const st = (name: string, parts: Iterable<Part>, size?: number, argument = 'bytes') => {
    const path = join(root, `${name}.safetensors`);
    writeChunks(path, parts, size);
    add({ name, kind: 'safetensors', path, code: 'INVALID_FORMAT', argument });
  };
  const ones = (n: number) => {
    const [open, close] = ['{"a":{"dtype":"F32","shape":[1', '],"data_offsets":[0,4]}}'];
    const length = open.length + 2 * (n - 1) + close.length;
    return { parts: seq(lengthPrefix(length), open, repeated(',1', n - 1), close), size: 8 + length + 4 };
  };
  for (const [name, n] of [
    ['shape-of-50M-ones', 50_000_000],
    // Within the header bound: refused by the array bound while scanning.
    ['shape-of-5M-ones', 5_000_000],
  ] as const) {
    const { parts, size } = ones(n);
    st(name, parts, size);
  }
  const zeroEntries = function* (count: number): Generator<string> {
    const per = 16_384;
    for (let i = 0; i < count; i += per) {
      let chunk = '';
      for (let k = i; k < Math.min(count, i + per); k++) {
        chunk += `${k === 0 ? '' : ','}"tensor.${k}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`;
      }
      yield chunk;
    }
  };
  const zeroLength = (count: number) => {
    let n = 2 + (count - 1);
    for (let k = 0; k < count; k++)
      n += `"tensor.${k}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`.length;
    return n;
  };
  for (const count of [1_690_000, 40_000]) {
    const length = zeroLength(count);
    st(`zero-size-${count}`, seq(lengthPrefix(length), '{', zeroEntries(count), '}'), 8 + length);
  }
  st('deep-20MB', seq(lengthPrefix(20_000_000), '{"a":', repeated('[', 1_000_000)), 8 + 20_000_000);
  st('length-beyond-file', [lengthPrefix(20_000_000), '{}']);
  st('length-2^64-1', [lengthPrefix(2n ** 64n - 1n), '{}']);
  st(
    'metadata-3M-keys',
    seq(lengthPrefix(24_000_000), '{"__metadata__":{"k":"v"', repeated(',"k":"v"', 3_000_000)),
    8 + 24_000_000,
  );
  st(
    'entry-1M-keys',
    seq(lengthPrefix(20_000_000), '{"a":{"dtype":"F32"', repeated(',"x":0', 1_000_000)),
    8 + 20_000_000,
  );

  // JSONL: ignored keys nested 1.9 million deep on one line.
  const data = join(root, 'data');
  mkdirSync(data);
  const d = 1_900_000;
  writeChunks(
    join(data, 'deep.jsonl'),
    seq('{"x":', repeated('[', d), repeated(']', d), ',"chosen":"a b","rejected":"a c"}\n'),
  );
  add({
    name: 'jsonl-deep-1.9M',
    kind: 'jsonl',
    path: data,
    file: 'deep.jsonl',
    code: 'OUT_OF_RANGE',
    argument: 'line',
  });
  // 350 000 distinct ignored keys on one 4 MB line: JSON.parse spends seconds on such a line; it
  // is accepted, read in time linear in its bytes.
  const junk = function* (): Generator<string> {
    yield '{"x":[';
    for (let o = 0; o < 3500; o++) {
      let chunk = o === 0 ? '{' : ',{';
      for (let k = 0; k < 100; k++) chunk += `${k === 0 ? '' : ','}"k${o * 100 + k}":0`;
      yield `${chunk}}`;
    }
    yield '],"chosen":"a b","rejected":"a c"}\n';
  };
  writeChunks(join(data, 'distinct-keys.jsonl'), junk());
  add({
    name: 'jsonl-350k-distinct-keys',
    kind: 'jsonl',
    path: data,
    file: 'distinct-keys.jsonl',
    code: null,
    argument: '',
  });
  // The same keys in a model.json: refused by the key bound before JSON.parse.
  dir = folder(root, 'model-json-distinct-keys');
  writeChunks(join(dir, 'model.json'), seq('{"modelTopology":', junk(), '}'));
  add({
    name: 'model-json-350k-distinct-keys',
    kind: 'folder',
    path: dir,
    code: 'INVALID_FORMAT',
    argument: 'model.json',
  });
  return cases;
}
