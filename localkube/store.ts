// In-memory object store with one global resourceVersion counter, like etcd's revision: every write
// (to any resource) gets the next number, so clients can order and resume across resources.
// It also keeps a time-bounded event history so watches can resume from a recent resourceVersion and
// paged lists can be served from a consistent snapshot; anything older than the window is "Expired".

export type Resource = "pods" | "namespaces" | "events" | "secrets" | "configmaps";
export type EventType = "ADDED" | "MODIFIED" | "DELETED";

// Objects are plain JSON; stored snapshots are never mutated in place, so an event can share them.
export type KObject = { metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: any }; [k: string]: any };

export interface StoreEvent {
  type: EventType;
  rv: number;
  resource: Resource;
  namespace: string;
  name: string;
  object: KObject; // state after the write (for DELETED: the last state, carrying the deletion's rv)
  prev?: KObject; // state before the write, so selector watches can detect "stopped matching"
  at: number; // ms since epoch, for trimming the history window
}

export type Listener = (ev: StoreEvent) => void;

const key = (resource: Resource, namespace: string, name: string) => `${resource}\u0000${namespace}\u0000${name}`;

export class Store {
  private objects: Record<Resource, Map<string, KObject>> = { pods: new Map(), namespaces: new Map(), events: new Map(), secrets: new Map(), configmaps: new Map() };
  private history: StoreEvent[] = [];
  private listeners = new Set<Listener>();
  private queue: StoreEvent[] = [];
  private dispatching = false;
  private rv = 0;
  /** Highest rv no longer in the history: watches/continues from an rv below it are Expired. */
  private trimmedUpTo = 0;

  constructor(private readonly historyMs: number) {}

  get resourceVersion(): number {
    return this.rv;
  }

  get(resource: Resource, namespace: string, name: string): KObject | undefined {
    return this.objects[resource].get(key(resource, namespace, name));
  }

  /** Current objects of a resource, optionally in one namespace, sorted by namespace then name. */
  list(resource: Resource, namespace?: string): KObject[] {
    const out: KObject[] = [];
    for (const o of this.objects[resource].values()) {
      if (namespace !== undefined && (o.metadata.namespace ?? "") !== namespace) continue;
      out.push(o);
    }
    return out.sort(byKey);
  }

  /** Caller has checked for existence; returns the stored copy. */
  create(resource: Resource, obj: KObject): KObject {
    const stored = this.stamp(resource, obj);
    this.objects[resource].set(key(resource, ns(stored), stored.metadata.name), stored);
    this.emit({ type: "ADDED", resource, object: stored });
    return stored;
  }

  /**
   * Read-modify-write on the latest state. `mutate` gets a private copy; returning false means
   * "no change" (no resourceVersion bump, no event). Returns the new (or unchanged) object.
   */
  update(resource: Resource, namespace: string, name: string, mutate: (o: KObject) => boolean | void): KObject | undefined {
    const k = key(resource, namespace, name);
    const cur = this.objects[resource].get(k);
    if (!cur) return undefined;
    const next = structuredClone(cur);
    if (mutate(next) === false) return cur;
    const stored = this.stamp(resource, next);
    this.objects[resource].set(k, stored);
    this.emit({ type: "MODIFIED", resource, object: stored, prev: cur });
    return stored;
  }

  remove(resource: Resource, namespace: string, name: string): KObject | undefined {
    const k = key(resource, namespace, name);
    const cur = this.objects[resource].get(k);
    if (!cur) return undefined;
    this.objects[resource].delete(k);
    const last = this.stamp(resource, structuredClone(cur));
    this.emit({ type: "DELETED", resource, object: last, prev: cur });
    return last;
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Events after `rv`, or "expired" when the history no longer reaches back that far. */
  eventsSince(rv: number): StoreEvent[] | "expired" {
    this.trim();
    if (rv < this.trimmedUpTo) return "expired";
    return this.history.filter((e) => e.rv > rv);
  }

  /** Oldest resourceVersion a watch can still start from. */
  get oldestResumable(): number {
    this.trim();
    return this.trimmedUpTo;
  }

  /** The objects of `resource` as they were at `rv` (undoing later events), or "expired". */
  snapshot(resource: Resource, rv: number, namespace?: string): KObject[] | "expired" {
    const later = this.eventsSince(rv);
    if (later === "expired") return later;
    const state = new Map<string, KObject>();
    for (const o of this.list(resource, namespace)) state.set(key(resource, ns(o), o.metadata.name), o);
    for (let i = later.length - 1; i >= 0; i--) {
      const e = later[i];
      if (e.resource !== resource || (namespace !== undefined && e.namespace !== namespace)) continue;
      const k = key(resource, e.namespace, e.name);
      if (e.type === "ADDED") state.delete(k);
      else if (e.prev) state.set(k, e.prev);
    }
    return [...state.values()].sort(byKey);
  }

  private stamp(_resource: Resource, obj: KObject): KObject {
    obj.metadata.resourceVersion = String(++this.rv);
    return obj;
  }

  private emit(partial: Pick<StoreEvent, "type" | "resource" | "object" | "prev">): void {
    const ev: StoreEvent = {
      ...partial,
      rv: Number(partial.object.metadata.resourceVersion),
      namespace: ns(partial.object),
      name: partial.object.metadata.name,
      at: Date.now(),
    };
    this.history.push(ev);
    this.trim();
    // Listeners may write from inside a callback; queueing keeps every listener seeing events in rv order.
    this.queue.push(ev);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        for (const l of [...this.listeners]) {
          try {
            l(next);
          } catch {
            // one broken listener (e.g. a closed socket) must not stop the others
          }
        }
      }
    } finally {
      this.dispatching = false;
    }
  }

  private trim(): void {
    const cutoff = Date.now() - this.historyMs;
    let n = 0;
    while (n < this.history.length && this.history[n].at < cutoff) n++;
    if (n === 0) return;
    this.trimmedUpTo = this.history[n - 1].rv;
    this.history.splice(0, n);
  }
}

const ns = (o: KObject) => o.metadata.namespace ?? "";
const byKey = (a: KObject, b: KObject) => {
  const x = `${ns(a)}/${a.metadata.name}`;
  const y = `${ns(b)}/${b.metadata.name}`;
  return x < y ? -1 : x > y ? 1 : 0;
};
