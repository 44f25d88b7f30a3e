/** Longest failure reason stored on a run: enough for a cause chain, bounded for the item size. */
export const MAX_FAILURE_REASON_LENGTH = 500;

// A stack frame line: "    at fn (file.js:1:2)" (V8) or "fn@file.js:1:2" (other engines).
const STACK_FRAME = /^\s*at\s|^\S*@\S+:\d+:\d+\s*$/;

/**
 * Makes a failure reason safe to store and show: stack frames dropped, whitespace collapsed to a
 * single line, length bounded. Run errors are visible over HTTP, so they must never carry a stack.
 */
export function sanitizeFailureReason(reason: string): string {
  const text = reason
    .split(/\r?\n/)
    .filter((line) => !STACK_FRAME.test(line))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (text === '') return 'unknown failure';
  return text.length > MAX_FAILURE_REASON_LENGTH ? `${text.slice(0, MAX_FAILURE_REASON_LENGTH - 1)}…` : text;
}

/**
 * A one-line reason for a caught error, for `RunLedger.markFailed`: the error's name and message
 * plus those of its causes (`ServiceUnavailableError: S3 is unavailable (ECONNREFUSED)`), never its stack.
 */
export function describeFailure(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    if (current instanceof Error) {
      parts.push(current.message ? `${current.name}: ${current.message}` : current.name);
      current = current.cause;
    } else {
      parts.push(String(current));
      current = undefined;
    }
  }
  return sanitizeFailureReason(parts.join(' <- '));
}
