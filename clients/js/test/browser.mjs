// A headless Chromium driven over the DevTools protocol (no extra package):
// enough to load the page, type, press Enter, click and read the DOM.
// Chromium is optional: findChromium() returns undefined where none is installed.
// Every host name but 127.0.0.1 fails to resolve, so the browser talks to nothing else.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';

export function findChromium() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'chrome']) {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
    } catch {
      // next
    }
  }
  return undefined;
}

const FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
  '--disable-extensions',
  '--no-pings',
  '--metrics-recording-only',
  '--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,CertificateTransparencyComponentUpdater',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
  '--remote-debugging-port=0',
  '--window-size=1000,900',
];

export async function launch(executable) {
  const profile = mkdtempSync(join(tmpdir(), 'lrw-chromium-'));
  const proc = spawn(executable, [...FLAGS, `--user-data-dir=${profile}`, 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const browserUrl = await new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`chromium did not start: ${text}`)), 15_000);
    proc.stderr.on('data', (d) => {
      text += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.once('exit', (code) => reject(new Error(`chromium exited ${code}: ${text}`)));
  });
  const port = new URL(browserUrl).port;
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const page = targets.find((t) => t.type === 'page');
  const ws = new WebSocket(page.webSocketDebuggerUrl, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let id = 0;
  const calls = new Map();
  const consoleLines = [];
  ws.on('message', (raw) => {
    const msg = JSON.parse(raw);
    if (msg.id && calls.has(msg.id)) {
      const { resolve, reject } = calls.get(msg.id);
      calls.delete(msg.id);
      if (msg.error) reject(new Error(msg.error.message));
      else resolve(msg.result);
    } else if (msg.method === 'Runtime.consoleAPICalled') {
      consoleLines.push(msg.params.args.map((a) => a.value ?? a.description).join(' '));
    } else if (msg.method === 'Runtime.exceptionThrown') {
      consoleLines.push(`exception: ${msg.params.exceptionDetails.exception?.description ?? msg.params.exceptionDetails.text}`);
    }
  });
  ws.on('close', () => {
    for (const { reject } of calls.values()) reject(new Error('browser connection closed'));
    calls.clear();
  });
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      if (ws.readyState !== WebSocket.OPEN) return reject(new Error('browser connection closed'));
      const n = ++id;
      calls.set(n, { resolve, reject });
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  await send('Runtime.enable');
  await send('Page.enable');

  const api = {
    console: consoleLines,
    send,
    async goto(url) {
      await send('Page.navigate', { url });
    },
    /** Evaluates an expression in the page (awaiting promises) and returns its value. */
    async eval(expression) {
      const r = await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
      if (r.exceptionDetails) throw new Error(r.exceptionDetails.exception?.description ?? r.exceptionDetails.text);
      return r.result.value;
    },
    async waitFor(expression, { timeout = 5_000, what = expression } = {}) {
      const end = Date.now() + timeout;
      for (;;) {
        const v = await api.eval(expression).catch(() => undefined);
        if (v) return v;
        if (Date.now() > end) throw new Error(`page: timed out waiting for ${what}; console: ${consoleLines.join(' | ')}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    /** Focuses the control labelled `label` (its <label> text) and types into it like a keyboard. */
    async type(label, text) {
      await api.eval(`(() => { const l = [...document.querySelectorAll('label')].find((l) => l.textContent.trim() === ${JSON.stringify(label)}); l.control.focus(); l.control.select?.(); })()`);
      await send('Input.insertText', { text });
    },
    async press(key) {
      const codes = { Enter: 13, Tab: 9 };
      const base = { key, code: key, windowsVirtualKeyCode: codes[key], nativeVirtualKeyCode: codes[key] };
      await send('Input.dispatchKeyEvent', { type: 'rawKeyDown', ...base });
      if (key === 'Enter') await send('Input.dispatchKeyEvent', { type: 'char', text: '\r', ...base });
      await send('Input.dispatchKeyEvent', { type: 'keyUp', ...base });
    },
    /** Clicks the button whose accessible text is `name`. */
    async click(name) {
      const ok = await api.eval(
        `(() => { const b = [...document.querySelectorAll('button')].find((b) => (b.getAttribute('aria-label') ?? b.textContent).trim() === ${JSON.stringify(name)}); if (!b) return false; b.click(); return true; })()`,
      );
      if (!ok) throw new Error(`no button ${name}`);
    },
    async screenshot() {
      const r = await send('Page.captureScreenshot', { format: 'png' });
      return Buffer.from(r.data, 'base64');
    },
    async close() {
      ws.close();
      const exited = () => proc.exitCode !== null || proc.signalCode !== null;
      if (!exited()) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
        await gone;
        clearTimeout(timer);
      }
      try {
        // Chromium's helper processes may still be writing to the profile for a moment.
        rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      } catch {
        // a temporary directory left behind is no failure
      }
    },
  };
  return api;
}
