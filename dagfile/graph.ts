// Orders tasks so every task comes after its upstreams, and finds cycles to report them by name.

/**
 * Topological order, keeping declaration order among tasks that are ready together, so the stored
 * definition reads like the DAG file. Returns the cycle (first task repeated at the end) if any.
 */
export function topologicalOrder(
  ids: readonly string[],
  upstreams: ReadonlyMap<string, readonly string[]>,
): { ok: true; order: string[] } | { ok: false; cycle: string[] } {
  const remaining = new Map<string, number>();
  const downstream = new Map<string, string[]>();
  for (const id of ids) {
    remaining.set(id, (upstreams.get(id) ?? []).length);
    downstream.set(id, []);
  }
  for (const id of ids) for (const up of upstreams.get(id) ?? []) downstream.get(up)?.push(id);

  const position = new Map(ids.map((id, i) => [id, i]));
  // The ready tasks, earliest declared first: a binary heap, so a DAG of many tasks ready at once (a
  // wide fan-out) orders in n log n, not n^2 log n.
  const ready = new MinHeap<string>((a, b) => position.get(a)! - position.get(b)!);
  for (const id of ids) if (remaining.get(id) === 0) ready.push(id);
  const order: string[] = [];
  while (ready.size > 0) {
    const next = ready.pop()!;
    order.push(next);
    for (const down of downstream.get(next)!) {
      const left = remaining.get(down)! - 1;
      remaining.set(down, left);
      if (left === 0) ready.push(down);
    }
  }
  if (order.length === ids.length) return { ok: true, order };
  return { ok: false, cycle: findCycle(ids.filter((id) => remaining.get(id)! > 0), upstreams) };
}

class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly before: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.before(items[i]!, items[parent]!) >= 0) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let least = i;
        if (left < items.length && this.before(items[left]!, items[least]!) < 0) least = left;
        if (right < items.length && this.before(items[right]!, items[least]!) < 0) least = right;
        if (least === i) break;
        [items[i], items[least]] = [items[least]!, items[i]!];
        i = least;
      }
    }
    return top;
  }
}

// Walks upstream edges among the tasks left over by Kahn's algorithm; every one of them is on or
// behind a cycle, so the walk must revisit a task.
function findCycle(stuck: readonly string[], upstreams: ReadonlyMap<string, readonly string[]>): string[] {
  const inStuck = new Set(stuck);
  const path: string[] = [];
  const onPath = new Map<string, number>();
  let current = stuck[0];
  while (!onPath.has(current)) {
    onPath.set(current, path.length);
    path.push(current);
    current = (upstreams.get(current) ?? []).find((up) => inStuck.has(up))!;
  }
  // The walk followed "depends on" edges; report it in run order: a -> b means b depends on a.
  const cycle = path.slice(onPath.get(current)!).reverse();
  return [...cycle, cycle[0]];
}

/**
 * Every task upstream of each task, directly or transitively. One bit per (task, task) pair, filled in
 * topological order (a task's bits are its upstreams' bits and theirs): n^2/8 bytes and e*n/32 word
 * operations. A Set of names per task would be n^2/2 entries: a chain of 20,000 tasks took gigabytes.
 */
export function transitiveUpstreams(
  order: readonly string[],
  upstreams: ReadonlyMap<string, readonly string[]>,
): Map<string, ReadonlySet<string>> {
  const index = new Map(order.map((id, i) => [id, i]));
  const words = Math.ceil(order.length / 32);
  const bits = new Map<string, Uint32Array>();
  const result = new Map<string, ReadonlySet<string>>();
  for (const id of order) {
    const own = new Uint32Array(words);
    for (const up of upstreams.get(id) ?? []) {
      const i = index.get(up);
      if (i === undefined) continue;
      own[i >>> 5]! |= 1 << (i & 31);
      const theirs = bits.get(up);
      if (theirs) for (let w = 0; w < words; w++) own[w]! |= theirs[w]!;
    }
    bits.set(id, own);
    result.set(id, new TaskBitSet(own, order, index));
  }
  return result;
}

/** A read-only set of task ids kept as bits over the topological order. */
class TaskBitSet implements ReadonlySet<string> {
  constructor(
    private readonly bits: Uint32Array,
    private readonly order: readonly string[],
    private readonly index: ReadonlyMap<string, number>,
  ) {}

  has(id: string): boolean {
    const i = this.index.get(id);
    return i !== undefined && (this.bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  get size(): number {
    let n = 0;
    for (const _ of this) n++;
    return n;
  }

  *values(): SetIterator<string> {
    for (let w = 0; w < this.bits.length; w++) {
      let word = this.bits[w]!;
      while (word !== 0) {
        const bit = 31 - Math.clz32(word & -word);
        yield this.order[w * 32 + bit]!;
        word &= word - 1;
      }
    }
  }

  keys(): SetIterator<string> {
    return this.values();
  }

  *entries(): SetIterator<[string, string]> {
    for (const id of this.values()) yield [id, id];
  }

  [Symbol.iterator](): SetIterator<string> {
    return this.values();
  }

  forEach(fn: (value: string, key: string, set: ReadonlySet<string>) => void, thisArg?: unknown): void {
    for (const id of this.values()) fn.call(thisArg, id, id, this);
  }
}
