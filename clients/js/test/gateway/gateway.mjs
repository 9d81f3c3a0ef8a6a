// Starts the real Rust local gateway (tools/local-gateway) as a child process
// on 127.0.0.1, port 0, and gives the tests its URLs and what it logs.
//
// The binary: $LOCAL_GATEWAY, else ../../target/debug/local-gateway relative to
// clients/js (`cargo build -p local-gateway` from the repository root builds
// it). A missing binary fails the test with that message; it never skips.
//
// The gateway runs under coreutils `timeout`, so it stops by itself even if
// the test process dies before its `close()`.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

const JS_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where the gateway binary is expected. */
export function gatewayPath() {
  return resolve(JS_ROOT, process.env.LOCAL_GATEWAY || '../../target/debug/local-gateway');
}

/** Throws a clear error when the binary is missing or not executable. */
export function requireGateway() {
  const path = gatewayPath();
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(
      `local gateway binary not found (or not executable) at ${path}: build it with ` +
        '`cargo build -p local-gateway` from the repository root, or set LOCAL_GATEWAY=/path/to/local-gateway',
    );
  }
  return path;
}

/** Variables the gateway reads as defaults of its flags: a test sets flags, not these. */
const GATEWAY_ENV = [
  'AWS_ENDPOINT_URL_DYNAMODB',
  'AWS_ENDPOINT_URL_SQS',
  'SUBSCRIBER_AUTH',
  'CHANNEL_SHARDS',
  'HISTORY_TTL_SECONDS',
  'HISTORY_MAX',
  'PRESENCE_EVENTS',
  'RUST_LOG',
];

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * Starts the gateway with `flags` (e.g. ['--auth', 'token', '--idle-timeout-secs', '2']).
 * Resolves once it prints its `wscat` line, with:
 * url (http://127.0.0.1:PORT), wsUrl and httpUrl (…/STAGE), port, stderr
 * (every log line so far), mint(), publish(), connections(), drop(), close().
 */
export async function startGateway(flags = [], { stage = 'staging', maxRunSecs = 180, startTimeoutMs = 20_000 } = {}) {
  const bin = requireGateway();
  const env = { ...process.env, NO_COLOR: '1' };
  for (const k of GATEWAY_ENV) delete env[k];
  const args = ['-k', '5', String(maxRunSecs), bin, '--port', '0', '--stage', stage, ...flags];
  // Its own process group: close() can end `timeout` and the gateway together.
  const proc = spawn('timeout', args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const killGroup = (signal) => {
    try {
      process.kill(-proc.pid, signal);
    } catch {
      // already gone
    }
  };
  const onExit = () => killGroup('SIGTERM');
  process.once('exit', onExit);

  const stdout = [];
  const stderr = [];
  /** connection id -> { open, channels: Set } from the gateway's log lines. */
  const conns = new Map();
  const order = [];
  const onStderr = (raw) => {
    const line = raw.replace(ANSI, '');
    stderr.push(line);
    const id = /connection_id=([^\s}]+)/.exec(line)?.[1];
    if (!id || !/\broute="?\$?\w+"?/.test(line)) return;
    const route = /\broute="?(\$?\w+)"?/.exec(line)[1];
    if (route === '$connect' && /\brouted\b/.test(line) && / status=200\b/.test(line)) {
      if (!conns.has(id)) {
        conns.set(id, { id, open: true, channels: new Set() });
        order.push(id);
      }
    } else if (route === '$disconnect') {
      const c = conns.get(id);
      if (c) c.open = false;
    } else if (route === 'subscribe') {
      const channel = /\bchannel="([^"]+)"/.exec(line)?.[1];
      if (channel && conns.has(id)) conns.get(id).channels.add(channel);
    }
  };
  createInterface({ input: proc.stderr }).on('line', onStderr);
  const stdoutLines = createInterface({ input: proc.stdout });

  const exited = new Promise((r) =>
    proc.once('exit', (code, signal) => {
      process.off('exit', onExit);
      r({ code, signal });
    }),
  );
  const port = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => {
      killGroup('SIGKILL');
      reject(new Error(`local gateway did not print its wscat line within ${startTimeoutMs} ms; stderr:\n${stderr.join('\n')}`));
    }, startTimeoutMs);
    stdoutLines.on('line', (line) => {
      stdout.push(line);
      const m = /^wscat = .*ws:\/\/127\.0\.0\.1:(\d+)\//.exec(line);
      if (m) {
        clearTimeout(timer);
        resolvePort(Number(m[1]));
      }
    });
    proc.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`local gateway exited (${code ?? signal}) before serving; args: ${args.join(' ')}\n${stderr.join('\n')}`));
    });
  });

  const url = `http://127.0.0.1:${port}`;
  const httpUrl = `${url}/${stage}`;
  const wsUrl = `ws://127.0.0.1:${port}/${stage}`;

  const gw = {
    port,
    url,
    httpUrl,
    wsUrl,
    stdout,
    stderr,
    /** POST /tokens (tokens mode): resolves with the JWT. */
    async mint({ channels = ['*'], publish = ['*'], subject, ttlSeconds = 600 } = {}) {
      const body = { channels, publish, ttlSeconds };
      if (subject !== undefined) body.subject = subject;
      const res = await fetch(`${httpUrl}/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const answer = await res.json();
      if (res.status !== 200 || typeof answer.token !== 'string') throw new Error(`mint ${res.status}: ${JSON.stringify(answer)}`);
      return answer.token;
    },
    /** HTTP publish, as curl would: a text body, or JSON with `json: true`. Resolves with the JSON answer. */
    async publish(channel, body, { json = false } = {}) {
      const res = await fetch(`${httpUrl}/channels/${encodeURIComponent(channel)}`, {
        method: 'POST',
        headers: { 'content-type': json ? 'application/json' : 'text/plain' },
        body: json ? JSON.stringify(body) : String(body),
      });
      const answer = await res.json();
      if (res.status !== 200) throw new Error(`publish ${res.status}: ${JSON.stringify(answer)}`);
      return answer;
    },
    /**
     * Connection ids the gateway logged as open, oldest first; with `channel`,
     * only those that subscribed to it (ids are not told to clients).
     */
    connections({ channel } = {}) {
      return order.map((id) => conns.get(id)).filter((c) => c.open && (!channel || c.channels.has(channel))).map((c) => c.id);
    },
    /** `DELETE @connections/{id}`: the gateway closes that socket (1000). */
    async drop(id) {
      const res = await fetch(`${httpUrl}/@connections/${encodeURIComponent(id)}`, { method: 'DELETE' });
      await res.arrayBuffer();
      if (res.status !== 204) throw new Error(`DELETE @connections/${id}: ${res.status}`);
    },
    /** Log lines matching a pattern. */
    logs(pattern) {
      return stderr.filter((l) => pattern.test(l));
    },
    /** Stops the gateway (SIGTERM, SIGKILL after 5 s) and waits for it. */
    async close() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM'); // timeout passes it on; the gateway closes its sockets (1001) and exits
        const timer = setTimeout(() => killGroup('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
  return gw;
}
