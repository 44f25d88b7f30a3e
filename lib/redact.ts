/**
 * Log redaction. Log lines may quote error messages from the driver or the AWS SDK, which can carry
 * a connection string or a presigned URL; both are credentials. Every string that reaches the
 * log formatter passes through `redactSecrets`.
 */

const MONGODB_CREDENTIALS = /(mongodb(?:\+srv)?:\/\/)[^@/\s]*@/gi;
/** SigV4 query parameters that authorise a presigned URL (the signature and the signing key scope). */
const PRESIGN_PARAMETERS = /([?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token)=)[^&\s"']*/gi;

/** Replaces MongoDB URI credentials and presigned-URL signatures in `text` with `***`. */
export function redactSecrets(text: string): string {
  return text.replace(MONGODB_CREDENTIALS, '$1***@').replace(PRESIGN_PARAMETERS, '$1***');
}

/** Deep copy of a JSON-like value with every string passed through `redactSecrets`. */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (value instanceof Date) return value;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = redactValue(item, depth + 1);
  return copy;
}
