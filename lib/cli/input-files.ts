import { DocumentsFileError } from '../store/documents-file.js';
import { CommandError, EXIT } from './usage.js';

/**
 * Runs a command's work; an input file it cannot read (missing, not UTF-8, broken JSON, a line too
 * long) becomes a {@link CommandError}: the path once, the line where known, what is wrong.
 */
export async function readingInputs<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof DocumentsFileError)) throw error;
    const where = error.line === undefined ? '' : `line ${error.line}: `;
    throw new CommandError(`${error.path}: ${where}${error.detail}`, EXIT.usage, { cause: error });
  }
}
