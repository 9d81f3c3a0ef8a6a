// Prints the bundle's size: as served (dist/client.js), minified, and minified+gzipped.
import { gzipSync } from 'node:zlib';
import { bundle } from './bundle.mjs';

const plain = await bundle();
const min = await bundle({ minify: true });
const gz = gzipSync(Buffer.from(min), { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`bundle     ${Buffer.byteLength(plain)} bytes (${kb(Buffer.byteLength(plain))})`);
console.log(`minified   ${Buffer.byteLength(min)} bytes (${kb(Buffer.byteLength(min))})`);
console.log(`min+gzip   ${gz} bytes (${kb(gz)})`);
