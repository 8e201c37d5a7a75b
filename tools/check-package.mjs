// Packs the package exactly as `npm publish` would, then runs publint and arethetypeswrong on the
// tarball (not on the working tree), failing on any error or warning. In a consumer project made
// from the tarball it then checks that every relative link of the shipped Markdown resolves to a
// shipped file, and compiles every TypeScript block of README.md and docs/*.md, plus the shipped
// examples, against the packed `ganpo` (as a user's tsc would see them).
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { freshFolderTrial } from './package-smoke/fresh-folder.mjs';

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
      (p) =>
        !/^(dist\/|(?:node|ops)\/package\.json$|docs\/[^/]+\.md$|examples\/|results\/(full\/)?results\.(md|svg)$|results\/(frontier|sentiment)\/(results\.md|frontier\.svg)$|results\/stability\/(stability\.md|tiny-random\.svg|mechanism\.txt)$|README\.md$|CHANGELOG\.md$|LICENSE$|package\.json$)/.test(
          p,
        ),
    );
  if (leaked.length) throw new Error(`unexpected files in the tarball: ${leaked.join(', ')}`);
  console.log(run('npx', ['publint', 'run', tarball, '--strict']));
  console.log(run('npx', ['attw', tarball, '--format', 'ascii']));
  smokeTest(tarball, info);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// The main and ops entries must bundle for browsers: no Node built-ins in dist/index.*, dist/ops.* or
// the chunks they import
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
  for (const entry of ['index.js', 'index.cjs', 'ops.js', 'ops.cjs']) visit(entry);
  console.log(`main and ops entries are free of Node built-ins (${seen.size} file(s) checked)`);
}

// A consumer project: the tarball installed by npm (offline; ganpo has no dependencies of its own)
// next to this repo's tfjs peers. Proves ESM import, CJS require, one library instance across
// `ganpo` and `ganpo/node`, and type resolution (node16 module resolution) of the packed files.
function smokeTest(tarball, info) {
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
    `import { GanpoError, versions } from 'ganpo'; const e = new GanpoError('OUT_OF_RANGE', 'x'); if (e.code !== 'OUT_OF_RANGE') process.exit(1); if (versions.ganpo !== ${JSON.stringify(info.version)}) { console.error('versions.ganpo is ' + versions.ganpo); process.exit(1); } console.log('ESM import ok, versions.ganpo ' + versions.ganpo);`,
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
  writeFileSync(
    join(app, 'ops-esm.mjs'),
    "import { fastLinear, layerNorm } from 'ganpo/ops'; if (typeof fastLinear !== 'function' || typeof layerNorm !== 'function') process.exit(1); console.log('ESM import ganpo/ops ok');",
  );
  writeFileSync(
    join(app, 'ops-cjs.cjs'),
    "const { geluErf } = require('ganpo/ops'); if (typeof geluErf !== 'function') process.exit(1); console.log('CJS require ganpo/ops ok');",
  );
  process.stdout.write(run('node', [join(app, 'esm.mjs')]));
  process.stdout.write(run('node', [join(app, 'ops-esm.mjs')]));
  process.stdout.write(run('node', [join(app, 'ops-cjs.cjs')]));
  process.stdout.write(run('node', [join(app, 'cjs.cjs')]));
  process.stdout.write(run('node', [join(app, 'node-esm.mjs')]));
  process.stdout.write(run('node', [join(app, 'node-cjs.cjs')]));
  process.stdout.write(run('node', [join(app, 'same-instance.cjs')]));
  process.stdout.write(run('node', [join(app, 'same-instance.mjs')]));
  process.stdout.write(run('node', [join(app, 'second-copy.mjs')]));
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
  checkLinks(pkgDir);
  compileDocs(app, pkgDir, tsc);
  const fresh = freshFolderTrial({ tarball, root: join(dir, 'fresh') });
  for (const p of fresh.projects) {
    const runs = p.ran.map((r) => `${r.source} ${r.seconds.toFixed(1)} s`).join(', ');
    console.log(`fresh ${p.kind} project: ${fresh.snippets} snippets typecheck (nodenext); ran ${runs}`);
  }
}

/** Every file under `dir` (relative paths, '/'-separated). */
function walk(dir, base = dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path, base) : [relative(base, path).split('\\').join('/')];
  });
}

// Relative Markdown links (`[text](path)` and `![alt](path)`) of every shipped .md must name a
// shipped file: a user reading node_modules/ganpo has nothing else.
function checkLinks(pkgDir) {
  const mds = walk(pkgDir).filter((f) => f.endsWith('.md'));
  let count = 0;
  const broken = [];
  for (const md of mds) {
    const text = readFileSync(join(pkgDir, md), 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      if (/^([a-z][a-z0-9+.-]*:|#)/i.test(target)) continue; // URLs and same-page anchors
      const path = resolve(pkgDir, dirname(md), decodeURI(target.split('#')[0]));
      const inside = !relative(pkgDir, path).startsWith('..');
      count++;
      if (!inside || !existsSync(path)) broken.push(`${md} → ${target}`);
    }
  }
  if (broken.length) throw new Error(`links to files missing from the tarball:\n  ${broken.join('\n  ')}`);
  console.log(`${count} relative links in ${mds.length} shipped Markdown files resolve inside the package`);
}

// The ```ts blocks of README.md and docs/*.md, compiled as a user's project would compile them:
// `ganpo` is the packed package. A block under `<!-- include: examples/… -->` is that shipped file,
// compiled with the other shipped examples (the browser example needs Vite and is left out).
function compileDocs(app, pkgDir, tsc) {
  const here = process.cwd();
  for (const dep of ['@types', '@huggingface', 'gpt-tokenizer']) {
    symlinkSync(join(here, 'node_modules', dep), join(app, 'node_modules', dep));
  }
  const snippets = join(app, 'snippets');
  mkdirSync(snippets);
  const docs = ['README.md', ...readdirSync(join(pkgDir, 'docs')).map((f) => `docs/${f}`)].filter((f) =>
    f.endsWith('.md'),
  );
  let blocks = 0;
  for (const doc of docs) {
    const text = readFileSync(join(pkgDir, doc), 'utf8');
    let i = 0;
    for (const m of text.matchAll(/(<!-- include: (\S+) -->\n)?```ts\n([\s\S]*?)```/g)) {
      blocks++;
      if (m[2]) {
        if (!existsSync(join(pkgDir, m[2]))) throw new Error(`${doc} includes ${m[2]}, which is not shipped`);
        continue;
      }
      writeFileSync(join(snippets, `${doc.replace(/[/.]/g, '_')}_${i++}.ts`), m[3]);
    }
  }
  const examples = walk(join(pkgDir, 'examples'))
    .filter((f) => f.endsWith('.ts') && !f.startsWith('browser/'))
    .map((f) => join(pkgDir, 'examples', f));
  const repoOptions = JSON.parse(readFileSync(join(here, 'tsconfig.json'), 'utf8')).compilerOptions;
  const { paths: _paths, ...compilerOptions } = repoOptions;
  const files = [...readdirSync(snippets).map((f) => join(snippets, f)), ...examples];
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { ...compilerOptions, noEmit: true, declaration: false }, files }),
  );
  run('node', [tsc, '-p', join(app, 'tsconfig.json')]);
  console.log(
    `${blocks} TypeScript blocks of README.md and docs/*.md and ${examples.length} shipped example files compile against the packed ganpo`,
  );
}
