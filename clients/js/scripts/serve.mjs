// Serves the page on the fake server, to try it without the Rust gateway:
//   npm run serve                 (open mode)   PORT=8090 by default
//   npm run serve -- --auth token (the page mints its own tokens)
import { fileURLToPath } from 'node:url';
import { startFakeServer } from '../test/fake-server.mjs';

const auth = process.argv.includes('--auth') ? process.argv[process.argv.indexOf('--auth') + 1] : 'none';
const port = Number(process.env.PORT ?? 8090);
const server = await startFakeServer({
  auth,
  port,
  page: { dir: new URL('../page/', import.meta.url), clientJs: fileURLToPath(new URL('../dist/client.js', import.meta.url)) },
});
console.log(`page  ${server.url}/`);
console.log(`ws    ${server.wsUrl}`);
console.log(`curl  curl -XPOST -d'message' ${server.httpUrl}/channels/lobby`);
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
