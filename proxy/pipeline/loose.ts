/**
 * The reservations still held at their byte bound (stage 7, estimate.ts), so
 * that a request about to be refused can first have the others of its budget
 * tightened to their exact counts. One per daemon, built in server/deps.ts;
 * an entry holds its request's body (through `exact`), and leaves when
 * tightened or when its response is over, settled or not.
 */
import type { Token } from '../tokens/token.js';
import type { Reservation } from './budget.js';

/** A reservation made with the byte bound, which can be tightened to the exact count while its request runs. */
export interface Loose {
  reservation: Reservation;
  tighten(): Promise<void>;
}

export class LooseBounds {
  private readonly loose = new Set<Loose>();

  /**
   * Holds `reservation` as loose: `exact` counts its request's worst case
   * exactly (once, however often it is tightened), `apply` lowers the
   * reservation to it; the entry leaves when `res` closes.
   */
  hold(reservation: Reservation, exact: () => Promise<number>, apply: (micros: number) => void, res: { once(event: 'close', fn: () => void): unknown }): Loose | null {
    if (reservation.chain.length === 0) return null;
    let done: Promise<void> | undefined;
    const l: Loose = {
      reservation,
      tighten: () =>
        (done ??= exact().then(
          (micros) => {
            this.loose.delete(l);
            apply(micros);
          },
          () => {
            this.loose.delete(l);
          },
        )),
    };
    this.loose.add(l);
    res.once('close', () => this.loose.delete(l));
    return l;
  }

  /** The loose reservations against any budget of `chain`. */
  in(chain: readonly Token[]): Loose[] {
    const ids = new Set(chain.filter((t) => t.budget !== null).map((t) => t.id));
    const out: Loose[] = [];
    for (const l of this.loose) {
      if (l.reservation.released) this.loose.delete(l);
      else if (l.reservation.chain.some((t) => ids.has(t.id))) out.push(l);
    }
    return out;
  }
}
