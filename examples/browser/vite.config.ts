// Vite config of the browser example (`npm run example:browser`, and the Playwright test builds it).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = fileURLToPath(new URL('../..', import.meta.url));
const shim = fileURLToPath(new URL('./node-shim.ts', import.meta.url));
const source = fileURLToPath(new URL('../../src/index.ts', import.meta.url));

/**
 * The library's main entry must bundle for browsers without Node built-ins. The example LM
 * (examples/tiny-lm) imports node:fs / node:path for its Node-only save/load; those imports get a
 * throwing shim. Any other Node built-in (above all one reached from src/) fails the build.
 */
function nodeBuiltinGuard(): Plugin {
  const builtin = /^(node:)?(fs|path|os|url|module|child_process|worker_threads|crypto)(\/.*)?$/;
  return {
    name: 'ganpo-node-builtin-guard',
    enforce: 'pre',
    resolveId(source, importer) {
      if (!builtin.test(source) || !importer) return null;
      const from = importer.replaceAll('\\', '/');
      if (from.includes('/examples/tiny-lm/')) return shim;
      if (from.includes('/node_modules/')) return null; // tfjs's own guarded Node paths (package.json "browser" field)
      this.error(`${importer} imports the Node built-in '${source}': the browser bundle must not`);
    },
  };
}

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export default defineConfig({
  root: here,
  // As in tsup.config.ts: the version is package.json's (src/version.ts).
  define: { __GANPO_VERSION__: JSON.stringify(version) },
  // Relative asset URLs: the built page works from any path (CI serves it from a temporary directory).
  base: './',
  plugins: [nodeBuiltinGuard()],
  // The example imports the library as an application does, from 'ganpo': in the repository, its
  // source; in an installed package (no src/), the package itself.
  resolve: existsSync(source) ? { alias: [{ find: /^ganpo$/, replacement: source }] } : {},
  server: { host: '127.0.0.1', port: 5173, fs: { allow: [repo] } },
  preview: { host: '127.0.0.1', port: 4173 },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
  // The wasm binaries are imported with `?url` (see main.ts); Vite serves and emits them as assets.
  assetsInclude: ['**/*.wasm'],
});
