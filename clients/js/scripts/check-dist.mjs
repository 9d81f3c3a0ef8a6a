// Fails when the committed dist/client.js is not what src/ builds to
// (the Rust gateway embeds that file and builds without npm).
import { readFile } from 'node:fs/promises';
import { bundle, OUT } from './bundle.mjs';

const built = await bundle();
let committed = '';
try {
  committed = await readFile(OUT, 'utf8');
} catch {
  // missing counts as different
}
if (built !== committed) {
  console.error('dist/client.js is out of date: run `npm run build` in clients/js and commit dist/client.js');
  process.exit(1);
}
console.log('dist/client.js matches src/');
