import { createRandom } from './inputs.js';

/**
 * The floor every run is compared with: sorting `count` random numeric keys in a `Float64Array`
 * (native, no comparator). Any approach that orders records by comparison pays at least this.
 * Both arrays are allocated up front, so a measurement allocates nothing: it can sit inside the
 * peak-RSS window, right next to the run it is compared with.
 */
export class SortFloor {
  private readonly keys: Float64Array;
  private readonly scratch: Float64Array;

  constructor(count: number, seed: number) {
    const random = createRandom(seed);
    this.keys = new Float64Array(count);
    for (let i = 0; i < count; i++) this.keys[i] = random();
    this.scratch = new Float64Array(count);
  }

  /** Wall time of one sort of the unsorted keys, in ms (restoring them is not timed). */
  measure(): number {
    this.scratch.set(this.keys);
    const start = performance.now();
    this.scratch.sort();
    const ms = performance.now() - start;
    if (this.scratch.length > 1 && (this.scratch[0] as number) > (this.scratch[1] as number)) {
      throw new Error('Float64Array sort left the keys unsorted');
    }
    return ms;
  }
}
