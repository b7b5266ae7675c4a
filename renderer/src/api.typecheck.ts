/**
 * Compile-time checks of the typed admin calls (`npm run typecheck`; never
 * bundled, nothing imports it): answers are typed from wire/admin-api.ts by
 * method and path, the more specific route first, and a call to a route the
 * table lacks, or a read of a field its answer lacks, does not compile.
 */
import { api } from './api';

export async function typedAdminCalls(id: string): Promise<unknown[]> {
  const created: string = (await api('POST', '/tokens', {})).secret;
  const own: number = (await api('GET', `/tokens/${id}`)).own_spent_usd;
  const rotated: string = (await api('POST', `/tokens/${id}/rotate`, {})).secret;
  const rows: number = (await api('GET', `/requests?token=${id}`)).data.length;
  // @ts-expect-error no such route
  await api('GET', '/no-such-route');
  // @ts-expect-error a route the dashboard does not POST to
  await api('POST', '/status');
  // @ts-expect-error the status has no such field
  void (await api('GET', '/status')).nonsense;
  return [created, own, rotated, rows];
}
