import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Every test file runs once per backend: one vitest project per backend, each selecting it through
// GANPO_BACKEND in tests/support/setup.ts. tfjs-node cannot be installed on our CI machines (its
// installer downloads libtensorflow), so its project exists only where the package resolves.
const require = createRequire(import.meta.url);
const hasTfjsNode = (() => {
  try {
    require.resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
})();

const backends = ['cpu', 'wasm', ...(hasTfjsNode ? ['tensorflow'] : [])];
if (!hasTfjsNode && !process.env.GANPO_QUIET) {
  console.log(
    '[ganpo] @tensorflow/tfjs-node is not installed: the tensorflow-backend test project is skipped.',
  );
}

// Examples import the library as users do, from 'ganpo' (tsconfig `paths` for tsc and tsx): here
// too it is the source, so tests and examples share one module instance.
const src = (file: string) => fileURLToPath(new URL(`./src/${file}`, import.meta.url));

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export default defineConfig({
  resolve: {
    alias: [
      { find: /^ganpo\/node$/, replacement: src('node.ts') },
      { find: /^ganpo\/ops$/, replacement: src('ops.ts') },
      { find: /^ganpo$/, replacement: src('index.ts') },
    ],
  },
  // As in tsup.config.ts: the version is package.json's (src/version.ts).
  define: { __GANPO_VERSION__: JSON.stringify(version) },
  test: {
    // `npm run coverage`: v8 coverage of src/ over the whole suite, failing below the floor (set a few
    // points under the measured values so that a change which drops tests is noticed).
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'json-summary'],
      reportsDirectory: 'test-results/coverage',
      // Measured 2026-11-30 (cpu project alone): statements 94.0 %, branches 85.4 %, functions 98.7 %, lines 94.6 %.
      thresholds: { statements: 92, branches: 83, functions: 96, lines: 92 },
    },
    projects: backends.map((backend) => ({
      extends: true,
      test: {
        name: backend,
        include: ['tests/**/*.test.ts'],
        setupFiles: ['tests/support/setup.ts'],
        env: { GANPO_BACKEND: backend },
        testTimeout: 120_000,
        hookTimeout: 120_000,
      },
    })),
  },
});
