/**
 * A `PaymentsImported` EventBridge event as the default bus delivers it. `eventId` differs between
 * redeliveries of one event in real life; tests that care pass their own.
 */
export function paymentsImported(
  importId: unknown,
  detail: Record<string, unknown> = {},
  eventId = `event-${String(importId).slice(0, 40)}`,
) {
  return {
    version: '0',
    id: eventId,
    'detail-type': 'PaymentsImported',
    source: 'billing.payments',
    account: '000000000000',
    time: '2024-06-01T00:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail: { importId, ...detail },
  };
}
