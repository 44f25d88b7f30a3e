import { once } from 'node:events';

/** Writes text to stdout chunk by chunk, waiting when the reader is slower than the writer. */
export async function printChunks(chunks: Iterable<string> | AsyncIterable<string>): Promise<void> {
  for await (const chunk of chunks) {
    if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
  }
  process.stdout.write('\n');
}
