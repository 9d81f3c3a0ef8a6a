// Test helpers, parameterised by URLs so the same tests can run against the
// fake server or the real local gateway.
import WebSocket from 'ws';
import { Client } from '../dist/client.js';

export { WebSocket };

/** Timings that make hours into milliseconds; tests override what they test. */
export const FAST = {
  backoffMinMs: 20,
  backoffMaxMs: 200,
  commandTimeoutMs: 1_000,
  connectTimeoutMs: 1_000,
  gapWaitMs: 100,
};

/**
 * A client with Node's `ws` as its WebSocket and fast timings; closed by
 * `closeAll()`. `log` records the subprotocols of every socket it opened.
 */
export function makeClients() {
  const made = [];
  const create = (url, options = {}) => {
    const sockets = [];
    class LoggedWebSocket extends WebSocket {
      constructor(u, protocols) {
        super(u, protocols);
        sockets.push({ url: u, protocols, ws: this });
      }
    }
    const c = new Client(url, { WebSocket: LoggedWebSocket, ...FAST, ...options });
    c.sockets = sockets;
    made.push(c);
    return c;
  };
  create.closeAll = () => {
    for (const c of made) c.close();
  };
  return create;
}

/** Polls `check` until it returns a truthy value; fails after `timeout` ms. */
export async function waitFor(check, { timeout = 4_000, interval = 5, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(interval);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves at the client's next state `want`. */
export function stateReached(client, want, timeout = 4_000) {
  if (client.state === want) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`state ${want} not reached (now ${client.state})`));
    }, timeout);
    const off = client.on('state', (s) => {
      if (s === want) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  });
}

/** POSTs a body to `{httpUrl}/channels/{channel}`; resolves with the JSON answer. */
export async function httpPublish(httpUrl, channel, body, { json = false } = {}) {
  const res = await fetch(`${httpUrl}/channels/${encodeURIComponent(channel)}`, {
    method: 'POST',
    headers: { 'content-type': json ? 'application/json' : 'text/plain' },
    body: json ? JSON.stringify(body) : String(body),
  });
  const answer = await res.json();
  if (!res.ok) throw new Error(`publish ${res.status}: ${answer.message}`);
  return answer;
}

/** A subscription's received offsets and messages. */
export function recorder() {
  const messages = [];
  return {
    messages,
    offsets: () => messages.map((m) => m.offset),
    onMessage: (m) => messages.push(m),
  };
}

/** Asserts-friendly: offsets form exactly from..to with no repeat. */
export function contiguous(offsets) {
  for (let i = 1; i < offsets.length; i++) if (offsets[i] !== offsets[i - 1] + 1) return false;
  return true;
}
