/** Small helpers every benchmark uses. */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Rounds to `digits` decimals. */
export const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
