import { defineConfig } from 'tsup';

export default defineConfig({
  // `node` is the Node-only entry (filesystem IO); `index` must stay free of Node built-ins.
  entry: ['src/index.ts', 'src/node.ts'],
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
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.js' }),
});
