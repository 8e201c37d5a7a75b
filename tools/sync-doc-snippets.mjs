// Refreshes the code blocks of docs/*.md that show files verbatim. A block is written as
//   <!-- include: examples/guide/file.ts -->
//   ```ts
//   ...
//   ```
// (a marker line alone gets its block created). tests/docs.test.ts fails when a block and its file differ.
//
//   node tools/sync-doc-snippets.mjs
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const marker = /<!-- include: (\S+) -->\n(?:```ts\n[\s\S]*?```\n)?/g;
for (const path of [
  'README.md',
  ...readdirSync('docs')
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f)),
]) {
  const text = readFileSync(path, 'utf8');
  const next = text.replace(
    marker,
    (_, file) => `<!-- include: ${file} -->\n\`\`\`ts\n${readFileSync(file, 'utf8')}\`\`\`\n`,
  );
  if (next !== text) {
    writeFileSync(path, next);
    console.log(`updated ${path}`);
  }
}
