// Bundles src/ into dist/client.js: one ESM file, readable (not minified),
// which the local gateway embeds and serves at /client.js.
// `node scripts/bundle.mjs --stdout` prints it instead (check-dist uses that).
import { build } from 'esbuild';
import { writeFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export const OUT = `${root}dist/client.js`;

export async function bundle({ minify = false } = {}) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['src/index.ts'],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify,
    legalComments: 'none',
    charset: 'utf8',
    write: false,
    banner: minify ? {} : { js: '// lambda-rust-websocket client (protocol lrw.v1). Generated from src/ by `npm run build`; do not edit.' },
  });
  return result.outputFiles[0].text;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = await bundle();
  await mkdir(`${root}dist`, { recursive: true });
  await writeFile(OUT, text);
  console.log(`dist/client.js: ${Buffer.byteLength(text)} bytes`);
}
