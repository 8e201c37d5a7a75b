// The first hour of a new user, automated: README.md's and docs/guide.md's TypeScript snippets, copied
// verbatim into a fresh ESM project ("type": "module") and a fresh CommonJS one (what `npm init -y`
// writes) that have only the packed tarball and the packages README's Install section lists. Checks:
//   - every snippet imports only packages (no path into the repository) that Install lists, or Node
//     built-ins;
//   - every snippet typechecks under `module`/`moduleResolution: nodenext` in both projects;
//   - every snippet that is a program (no `export`, no `declare`) runs, in both projects, with tsx
//     (the README's runner), within a time limit.
// Used by tools/check-package.mjs on the tarball it packs; alone: node tools/package-smoke/fresh-folder.mjs
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SOURCES = ['README.md', 'docs/guide.md'];
/** Packages a snippet may use without Install listing them: Node's own. */
const builtin = (name) => name.startsWith('node:');

/** The ```ts blocks of a Markdown file, with their 1-based start lines. */
export function snippets(file, text) {
  const out = [];
  for (const m of text.matchAll(/```ts\n([\s\S]*?)```/g)) {
    const line = text.slice(0, m.index).split('\n').length;
    out.push({ source: `${file}:${line}`, code: m[1] });
  }
  return out;
}

/** The package names a snippet imports (`@scope/name` or `name`; subpaths dropped). */
export function importedPackages(code) {
  const names = new Set();
  for (const m of code.matchAll(/(?:^|\n)\s*(?:import|export)\s(?:[^'"]*?\sfrom\s)?['"]([^'"]+)['"]/g)) {
    const spec = m[1];
    if (spec.startsWith('.') || spec.startsWith('/')) names.add(spec);
    else if (builtin(spec)) continue;
    else names.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
  }
  for (const m of code.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    if (!builtin(m[1]))
      names.add(m[1].startsWith('@') ? m[1].split('/').slice(0, 2).join('/') : m[1].split('/')[0]);
  }
  return [...names];
}

/** The packages README.md's "Install" section tells the user to install (`npm install a b c`). */
export function installedPackages(readme) {
  const section = readme.slice(
    readme.indexOf('## Install'),
    readme.indexOf('\n## ', readme.indexOf('## Install') + 1),
  );
  const names = new Set();
  for (const m of section.matchAll(/npm install ([^\n`#]+)/g)) {
    for (const word of m[1].trim().split(/\s+/)) {
      if (!word.startsWith('-')) names.add(word.replace(/(.)@[^/]*$/, '$1')); // name@version → name
    }
  }
  return names;
}

/** A snippet that is a whole program rather than a module to copy into one's own code. */
const isProgram = (code) => !/^\s*export\s/m.test(code) && !/^\s*declare\s/m.test(code);

/**
 * Runs the trial in `root` (a temporary folder) with `tarball` installed; `repo` provides the other
 * packages (symlinked: CI installs nothing from the network). Returns a report; throws on failure.
 */
export function freshFolderTrial({ tarball, repo = process.cwd(), root, timeoutMs = 120_000 }) {
  const run = (cmd, args, cwd) =>
    execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const install = installedPackages(readme);
  const all = SOURCES.flatMap((f) => snippets(f, readFileSync(join(repo, f), 'utf8')));
  const problems = [];
  for (const s of all) {
    for (const name of importedPackages(s.code)) {
      if (name.startsWith('.') || name.startsWith('/'))
        problems.push(`${s.source}: imports the path '${name}'`);
      else if (!install.has(name))
        problems.push(`${s.source}: imports '${name}', which Install does not list`);
    }
  }
  const report = { snippets: all.length, programs: 0, projects: [] };
  for (const kind of ['esm', 'cjs']) {
    const app = join(root, `fresh-${kind}`);
    mkdirSync(app, { recursive: true });
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({
        name: `fresh-${kind}`,
        version: '1.0.0',
        private: true,
        type: kind === 'esm' ? 'module' : 'commonjs',
      }),
    );
    run(
      'npm',
      ['install', '--offline', '--no-audit', '--no-fund', '--legacy-peer-deps', '--ignore-scripts', tarball],
      app,
    );
    for (const name of [...install].filter((n) => n !== 'ganpo')) {
      const scope = name.startsWith('@') ? name.split('/')[0] : null;
      if (scope) mkdirSync(join(app, 'node_modules', scope), { recursive: true });
      try {
        symlinkSync(join(repo, 'node_modules', name), join(app, 'node_modules', name));
      } catch {
        problems.push(`${kind}: Install lists '${name}', which this repository does not have installed`);
      }
    }
    for (const dev of ['@types', 'tsx']) {
      try {
        symlinkSync(join(repo, 'node_modules', dev), join(app, 'node_modules', dev));
      } catch {}
    }
    const files = all.map((s, i) => {
      const file = join(app, `snippet-${String(i + 1).padStart(2, '0')}.ts`);
      writeFileSync(file, `// ${s.source}\n${s.code}`);
      return { ...s, file };
    });
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          skipLibCheck: true,
          noEmit: true,
          types: ['node'],
        },
        files: files.map((f) => f.file),
      }),
    );
    const tsc = spawnSync(
      process.execPath,
      [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app],
      {
        encoding: 'utf8',
      },
    );
    if (tsc.status !== 0) problems.push(`${kind}: tsc (nodenext):\n${tsc.stdout}${tsc.stderr}`);
    const ran = [];
    const seen = new Set();
    // A program shown in both README and the guide runs once.
    for (const f of files.filter((x) => isProgram(x.code) && !seen.has(x.code) && seen.add(x.code))) {
      const started = Date.now();
      const r = spawnSync(process.execPath, ['--import', 'tsx', f.file], {
        cwd: app,
        encoding: 'utf8',
        timeout: timeoutMs,
        env: { ...process.env, GANPO_FRESH_FOLDER: '1' },
      });
      ran.push({ source: f.source, seconds: (Date.now() - started) / 1000, status: r.status });
      if (r.status !== 0) {
        problems.push(
          `${kind}: ${f.source} exited ${r.status ?? r.signal}:\n${(r.stderr || r.stdout).slice(-2000)}`,
        );
      }
    }
    report.programs = ran.length;
    report.projects.push({ kind, ran });
  }
  if (problems.length) throw new Error(`fresh-folder trial:\n- ${problems.join('\n- ')}`);
  return report;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = mkdtempSync(join(tmpdir(), 'ganpo-fresh-'));
  try {
    const [info] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    const report = freshFolderTrial({ tarball: join(dir, info.filename), root: dir });
    console.log(JSON.stringify(report, null, 2));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
