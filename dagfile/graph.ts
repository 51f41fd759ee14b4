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
  const ready = ids.filter((id) => remaining.get(id) === 0);
  const order: string[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => position.get(a)! - position.get(b)!);
    const next = ready.shift()!;
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

/** Every task upstream of each task, directly or transitively. */
export function transitiveUpstreams(
  order: readonly string[],
  upstreams: ReadonlyMap<string, readonly string[]>,
): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  for (const id of order) {
    const all = new Set<string>();
    for (const up of upstreams.get(id) ?? []) {
      all.add(up);
      for (const further of result.get(up) ?? []) all.add(further);
    }
    result.set(id, all);
  }
  return result;
}
