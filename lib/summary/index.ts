/**
 * The actions summary (SPEC §2): one aggregation pipeline per account or per keyset page
 * (`pipeline.ts`, pure data) and the service that runs it on a document store (`service.ts`).
 */

export * from './pipeline.js';
export * from './service.js';
