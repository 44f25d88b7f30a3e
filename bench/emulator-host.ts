/**
 * Child process: hosts the DynamoDB and S3 emulators (scripts/emulators.ts) for the end-to-end
 * measurement, so their CPU work and memory are not counted in the measured worker process.
 * Reports the environment that points the project's clients at them, then runs until its stdin
 * closes (the parent's stop signal, also when the parent dies) or it gets SIGTERM/SIGINT.
 */
import { startEmulators } from '../scripts/emulators.js';
import { emitResult } from './child-process.js';

async function main(): Promise<void> {
  const emulators = await startEmulators();
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    emulators.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('failed to stop the emulators:', error);
        process.exit(1);
      },
    );
  };
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  emitResult({ env: emulators.env() });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
