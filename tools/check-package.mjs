// Packs the package exactly as `npm publish` would, then runs publint and arethetypeswrong on the
// tarball (not on the working tree), failing on any error or warning.
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'ganpo-pack-'));
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
try {
  const [info] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', dir]));
  const tarball = join(dir, info.filename);
  console.log(`packed ${info.filename}: ${info.entryCount} files, ${(info.size / 1024).toFixed(1)} KiB`);
  const leaked = info.files
    .map((f) => f.path)
    .filter(
      (p) => !/^(dist\/|node\/package\.json$|README\.md$|CHANGELOG\.md$|LICENSE$|package\.json$)/.test(p),
    );
  if (leaked.length) throw new Error(`unexpected files in the tarball: ${leaked.join(', ')}`);
  console.log(run('npx', ['publint', 'run', tarball, '--strict']));
  console.log(run('npx', ['attw', tarball, '--format', 'ascii']));
  smokeTest(tarball);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// The main entry must bundle for browsers: no Node built-ins in dist/index.* or the chunks it imports
// (the filesystem IO handler lives in the `ganpo/node` entry only).
function assertBrowserSafe(pkgDir) {
  const dist = join(pkgDir, 'dist');
  const builtin =
    /(?:from\s*|require\(|import\()\s*['"](?:node:)?(?:fs|path|os|child_process|url|module)(?:\/[a-z]+)?['"]/;
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(join(dist, file), 'utf8');
    if (builtin.test(src))
      throw new Error(`dist/${file} (reached from the main entry) imports a Node built-in`);
    for (const m of src.matchAll(/from\s*['"]\.\/([^'"]+)['"]|require\(['"]\.\/([^'"]+)['"]\)/g))
      visit(m[1] ?? m[2]);
  };
  visit('index.js');
  visit('index.cjs');
  console.log(`main entry is free of Node built-ins (${seen.size} file(s) checked)`);
}

// A consumer project: the tarball installed by npm (offline; ganpo has no dependencies of its own)
// next to this repo's tfjs peers. Proves ESM import, CJS require, one library instance across
// `ganpo` and `ganpo/node`, and type resolution (node16 module resolution) of the packed files.
function smokeTest(tarball) {
  const app = join(dir, 'app');
  const pkgDir = join(app, 'node_modules', 'ganpo');
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, 'package.json'), '{"name":"app","private":true,"type":"module"}');
  const npmFlags = ['--offline', '--no-audit', '--no-fund', '--legacy-peer-deps', '--ignore-scripts'];
  run('npm', ['install', ...npmFlags, tarball], app);
  // After `npm install`, which would prune a package it did not install.
  symlinkSync(join(process.cwd(), 'node_modules', '@tensorflow'), join(app, 'node_modules', '@tensorflow'));
  const smoke = join(process.cwd(), 'tools', 'package-smoke');
  for (const f of readdirSync(smoke)) copyFileSync(join(smoke, f), join(app, f));
  writeFileSync(
    join(app, 'esm.mjs'),
    "import { GanpoError } from 'ganpo'; const e = new GanpoError('OUT_OF_RANGE', 'x'); if (e.code !== 'OUT_OF_RANGE') process.exit(1); console.log('ESM import ok');",
  );
  writeFileSync(
    join(app, 'cjs.cjs'),
    "const { GanpoError } = require('ganpo'); if (typeof GanpoError !== 'function') process.exit(1); console.log('CJS require ok');",
  );
  writeFileSync(
    join(app, 'types.mts'),
    "import { GanpoError, type GanpoErrorCode } from 'ganpo';\nconst code: GanpoErrorCode = new GanpoError('NON_FINITE', 'm').code;\nexport { code };\n",
  );
  writeFileSync(
    join(app, 'types.cts'),
    "import ganpo = require('ganpo');\nconst code: ganpo.GanpoErrorCode = new ganpo.GanpoError('NON_FINITE', 'm').code;\nexport { code };\n",
  );
  writeFileSync(
    join(app, 'node-esm.mjs'),
    "import { fileSystemHandler, TransformerDiscriminator } from 'ganpo/node'; if (typeof fileSystemHandler !== 'function' || typeof TransformerDiscriminator !== 'function') process.exit(1); console.log('ESM import ganpo/node ok');",
  );
  writeFileSync(
    join(app, 'node-cjs.cjs'),
    "const { fileSystemHandler } = require('ganpo/node'); if (typeof fileSystemHandler !== 'function') process.exit(1); console.log('CJS require ganpo/node ok');",
  );
  process.stdout.write(run('node', [join(app, 'esm.mjs')]));
  process.stdout.write(run('node', [join(app, 'cjs.cjs')]));
  process.stdout.write(run('node', [join(app, 'node-esm.mjs')]));
  process.stdout.write(run('node', [join(app, 'node-cjs.cjs')]));
  process.stdout.write(run('node', [join(app, 'same-instance.cjs')]));
  process.stdout.write(run('node', [join(app, 'same-instance.mjs')]));
  assertBrowserSafe(pkgDir);
  const tsc = join(process.cwd(), 'node_modules', 'typescript', 'bin', 'tsc');
  run('node', [
    tsc,
    '--noEmit',
    '--strict',
    '--skipLibCheck',
    '--module',
    'node16',
    '--moduleResolution',
    'node16',
    join(app, 'types.mts'),
    join(app, 'types.cts'),
  ]);
  console.log('types resolve (node16, ESM and CJS) ok');
}
