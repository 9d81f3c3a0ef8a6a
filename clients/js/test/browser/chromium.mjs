// Debian's Chromium driven by playwright-core (no browser download): the
// executable is $CHROMIUM, else /usr/bin/chromium. A missing one fails the
// test with the command that installs it; it never skips.
// Every host name but 127.0.0.1 fails to resolve, so the page talks to nothing else.
import { accessSync, constants, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];

/** Screenshots and other artefacts of the browser tests (git-ignored). */
export const OUTPUT = fileURLToPath(new URL('../../test-output/', import.meta.url));

export function outputPath(name) {
  mkdirSync(OUTPUT, { recursive: true });
  return `${OUTPUT}${name}`;
}

/** Launches Chromium; throws with the install command when it is missing. */
export async function launchChromium() {
  try {
    accessSync(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's with \`apt-get install -y chromium\`, or set CHROMIUM=/path/to/chromium`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
}

/**
 * A new page whose console errors and uncaught exceptions are collected in
 * `page.problems` (a test asserts it stays empty).
 */
export async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`exception: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') page.problems.push(`console.error: ${m.text()} (${m.location().url})`);
  });
  return page;
}
