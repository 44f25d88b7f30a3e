/**
 * A small seeded PRNG (mulberry32): the benchmark inputs must be identical from run to run and
 * from machine to machine, which `Math.random` cannot promise.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, bound). */
  int(bound: number): number;
}

/**
 * @example
 * const random = createRandom(42);
 * random.int(1000); // the same value on every run
 */
export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return { next, int: (bound) => Math.floor(next() * bound) };
}

/** Fisher–Yates shuffle in place. */
export function shuffleInPlace(values: Int32Array | number[], random: Random): void {
  for (let i = values.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const swap = values[i] as number;
    values[i] = values[j] as number;
    values[j] = swap;
  }
}
