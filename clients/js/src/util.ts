// Small pure helpers: backoff, token expiry, channel names, errors.

/**
 * Full-jitter exponential backoff with a floor: a delay drawn uniformly from
 * `[minMs, min(maxMs, minMs * 2^(attempt+1))]`. Attempt 0 waits 1–2 × minMs,
 * and from some attempt on every delay lies anywhere in `[minMs, maxMs]`, so
 * a fleet that dropped together does not come back together.
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * Math.pow(2, Math.min(attempt + 1, 30)));
  return minMs + random() * Math.max(0, ceiling - minMs);
}

/** A uniformly random value in `[min, max]`. */
export function between(min: number, max: number, random: () => number = Math.random): number {
  return min + random() * Math.max(0, max - min);
}

/**
 * The `exp` claim of a JWT in milliseconds since the epoch, read from its
 * payload without verifying anything; undefined when absent or unreadable.
 */
export function tokenExpiry(token: string): number | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    let b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % 4) b64 += '=';
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return typeof claims?.exp === 'number' && isFinite(claims.exp) ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

const CHANNEL = /^[A-Za-z0-9_.:-]{1,128}$/;

/** A channel name: 1–128 characters of `A–Z a–z 0–9 _ - . :`. */
export function isChannelName(name: unknown): name is string {
  return typeof name === 'string' && CHANNEL.test(name);
}

/** UTF-8 length of a string, without allocating. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/**
 * Codes a command can fail with: the server's (400, 401, 403, 413, 429, 503)
 * or the client's own: `timeout` (no reply within the command timeout),
 * `disconnected` (the socket closed before the reply; the command may or may
 * not have run), `closed` (the client was closed), `unsubscribed` (the
 * subscription was dropped before it was confirmed).
 */
export type ErrorCode = number | 'timeout' | 'disconnected' | 'closed' | 'unsubscribed';

/** The error every promise of the client rejects with. */
export class LrwError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'LrwError';
    this.code = code;
  }
}

/** Longest delay timers take; a longer one would fire at once (browsers and Node alike). */
const MAX_DELAY = 2_147_483_647;

/** setTimeout with the delay clamped to what timers can hold (a year-long token must not refresh at once). */
export function later(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
  return setTimeout(fn, Math.min(Math.max(0, ms), MAX_DELAY));
}
