import { Aggregator } from 'mingo';
import type { Document } from 'mongodb';
import type { DocumentStore } from '../../lib/store/document-store.js';

/**
 * Runs `pipeline` over a copy of `documents` with mingo, the engine behind the embedded store. The
 * default `mingo` entry point registers every operator, so an operator mingo lacks fails loudly
 * here instead of in the store. Lets pipeline tests run without a store or a server.
 */
export function runPipeline(documents: readonly Document[], pipeline: readonly Document[]): Document[] {
  return new Aggregator(structuredClone([...pipeline])).run(structuredClone([...documents])) as Document[];
}

/**
 * A minimal {@link DocumentStore} over in-memory collections that only aggregates (with
 * {@link runPipeline}) and remembers what it was asked, for service-function tests.
 */
export class PipelineOnlyStore implements DocumentStore {
  readonly calls: { collection: string; pipeline: readonly Document[] }[] = [];

  constructor(private readonly collections: Readonly<Record<string, readonly Document[]>>) {}

  async *aggregate<T extends Document = Document>(
    collection: string,
    pipeline: readonly Document[],
  ): AsyncIterable<T> {
    this.calls.push({ collection, pipeline });
    for (const document of runPipeline(this.collections[collection] ?? [], pipeline)) {
      yield document as T;
    }
  }

  find(): AsyncIterable<never> {
    throw new Error('PipelineOnlyStore does not implement find');
  }

  async estimatedCount(): Promise<number> {
    throw new Error('PipelineOnlyStore only runs aggregations');
  }

  async close(): Promise<void> {}
}
