// Many envelopes are stamped within the same millisecond; format each millisecond once.
let lastMs = 0;
let lastIso = '';

/** The current time as an RFC 3339 string (millisecond precision). */
export function nowIso(): string {
  const ms = Date.now();
  if (ms !== lastMs) { lastMs = ms; lastIso = new Date(ms).toISOString(); }
  return lastIso;
}
