/** Dashboard sessions as the page makes them. */

/** What the dashboard page does with the fragment's claim: trades it, with the cookie, for the session's key. */
export async function claimSession(url: string, cookie: string, claim: string): Promise<string> {
  const r = await fetch(`${url}/admin/api/session/claim`, { method: 'POST', headers: { cookie, origin: url, 'content-type': 'application/json' }, body: JSON.stringify({ claim }) });
  if (r.status !== 200) throw new Error(`claim failed: ${r.status}`);
  return ((await r.json()) as { key: string }).key;
}
