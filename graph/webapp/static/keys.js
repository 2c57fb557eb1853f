// Idempotency keys (README "Money"): a new one for each thing a lender asks, the same one when the
// same request is sent again after its answer was lost, so money moves once.

export function newKey(purpose) {
  // crypto.getRandomValues works on plain http too (randomUUID needs a secure context).
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `${purpose}-${Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}

const RETRYABLE = new Set(["NETWORK", "UNAVAILABLE"]);
const ATTEMPTS = 3;

// Sends `send(key)` until it gets an answer: after a lost connection or a retryable error it waits and
// sends the same key again. A key whose answer never came is kept under `pending`, for the next click.
export async function withKey(pending, name, purpose, send) {
  const key = pending.get(name) ?? newKey(purpose);
  pending.set(name, key);
  for (let attempt = 1; ; attempt += 1) {
    try {
      const result = await send(key);
      pending.delete(name);
      return result;
    } catch (error) {
      if (!RETRYABLE.has(error.code)) pending.delete(name);
      if (!RETRYABLE.has(error.code) || attempt === ATTEMPTS) throw error;
      const seconds = Number(error.details?.retryAfter) || attempt;
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    }
  }
}
