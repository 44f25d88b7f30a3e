/**
 * The document store: one small interface (`DocumentStore`) with a MongoDB and an embedded
 * (mingo) implementation, the per-container factory, Extended JSON file reading, the indexes the
 * queries rely on.
 */

export {
  bsonTypeRank,
  compareBson,
  compareUtf8,
  type SortDirections,
  sortDocuments,
  sortKeyOf,
} from './bson-order.js';
export {
  MONGO_APP_NAME,
  MONGO_MAX_POOL_SIZE,
} from './connect-mongo.js';
export type { DocumentStore, FindOptions, SortSpec } from './document-store.js';
export {
  DocumentsFileError,
  parseDocuments,
  type ReadDocumentsOptions,
  readDocuments,
  readDocumentsFile,
} from './documents-file.js';
export { DataFileError, EmbeddedDocumentStore, type EmbeddedStoreSource } from './embedded-store.js';
export { getDocumentStore, resetDocumentStore } from './get-document-store.js';
export {
  ACCOUNT_COLLECTION,
  DEFAULT_PARTITION_FIELDS,
  type EnsuredIndex,
  ensureIndexes,
  type IndexDefinition,
  indexDefinitions,
  MATCHING_COLLECTIONS,
} from './indexes.js';
export { lazyDocumentStore } from './lazy-store.js';
export { MONGO_COMPATIBLE_CONTEXT, mingoOptions } from './mingo-context.js';
export { toStoreError } from './mongo-errors.js';
export { DEFAULT_FIND_BATCH_SIZE, MongoDocumentStore } from './mongo-store.js';
export { SAMPLE_WHOLE_BELOW, sampleField, sampleFieldPipeline, sampleSizeFor } from './sample-field.js';
