import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export default defineConfig({
  // `node` is the Node-only entry (filesystem IO); `index` and `ops` must stay free of Node built-ins.
  entry: ['src/index.ts', 'src/node.ts', 'src/ops.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  // Code splitting in both formats: `ganpo` and `ganpo/node` share one chunk, so CommonJS users get one
  // library instance (one GanpoError class, one validation level) as ESM users do.
  splitting: true,
  target: 'es2022',
  // Peer dependencies stay external: the user's tfjs instance (and backend) must be the one we use.
  external: [/^@tensorflow\//],
  // The version lives in package.json only (src/version.ts).
  define: { __GANPO_VERSION__: JSON.stringify(version) },
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.js' }),
});
