// Types for printer.mjs, the stress test's task program (plain JavaScript so each Pod starts fast).
export function chunks(kind: string, seed: number, n: number): Generator<Buffer>;
