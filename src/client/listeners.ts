/**
 * The realtime client's listeners, by event name. A listener that throws does not stop the
 * others: its error is rethrown on a microtask, where it is reported without breaking delivery.
 * Browser-safe (no node EventEmitter).
 */
type Listener = (...args: any[]) => void;

export class Listeners<Events extends { [E in keyof Events]: Listener }> {
  private readonly byEvent = new Map<keyof Events, Set<Listener>>();

  /** Adds a listener; returns a function that removes it. */
  on<E extends keyof Events>(event: E, listener: Events[E]): () => void {
    let set = this.byEvent.get(event);
    if (!set) this.byEvent.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  fire<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    for (const listener of this.byEvent.get(event) ?? []) {
      try {
        listener(...args);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
