/**
 * Where the sidecar may send a webhook. The body carries a fresh token secret,
 * so the rule is strict: loopback only, unless the human named other hosts in
 * the `webhook_allowed_hosts` setting — and even then never a private,
 * link-local or otherwise non-public address, however it is written.
 *
 * Known filter bypasses (node `ip` CVE-2024-29415, GHSA-9g3w-r349-3vvw) rely
 * on a host that one parser reads differently from another: `127.1`, octal
 * `0177.0.0.1`, hex `0x7f.1`, the integer `2130706433`, IPv4-mapped IPv6
 * `[::ffff:7f00:1]`. Here the WHATWG parser normalizes the host, anything not
 * typed in that normal form is refused outright, addresses are classified with
 * node's BlockList (which also sees through IPv4-mapped IPv6), DNS names are
 * resolved and every answer checked, and the caller connects to the very
 * address that was checked (no second lookup for a rebinding to exploit).
 */
import { BlockList, isIP, isIPv4 } from 'node:net';
import { badRequest, type SidecarError } from '../core/errors.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface OutboundPolicy {
  /** Host names the human allowed (the `webhook_allowed_hosts` setting), matched exactly. */
  allowedHosts: readonly string[];
  /** How DNS names are resolved; the system resolver by default. */
  resolve?: Resolver;
}

export interface CheckedUrl {
  url: URL;
  /** Connect here, not to whatever the hostname resolves to later. */
  address: ResolvedAddress;
  loopback: boolean;
}

// node:dns/promises and the BlockLists (node's internal/blocklist) are loaded on first use: only webhooks and
// rotations reach this, and a daemon's start would otherwise pay for both (issue 27 item 4).
const systemResolver: Resolver = async (hostname) =>
  (await process.getBuiltinModule('node:dns/promises').lookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/**
 * Addresses that are not public unicast internet addresses (IANA special-purpose
 * registries). One list per family: BlockList matches IPv4 addresses against
 * IPv4-mapped IPv6 rules, so a shared list would make every IPv4 address "mapped".
 */
interface Lists {
  NON_PUBLIC_V4: BlockList;
  NON_PUBLIC_V6: BlockList;
  LOOPBACK_V4: BlockList;
  MAPPED: BlockList;
}
let lists: Lists | null = null;

function blockLists(): Lists {
  if (lists) return lists;
  const NON_PUBLIC_V4 = new BlockList();
  const NON_PUBLIC_V6 = new BlockList();
  for (const [net, bits] of [
    ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
    ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
    ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
  ] as const) NON_PUBLIC_V4.addSubnet(net, bits, 'ipv4');
  for (const [net, bits] of [
    ['::', 96], // unspecified, loopback and the deprecated IPv4-compatible form
    ['::ffff:0:0', 96], // IPv4-mapped: refused whatever it maps to
    ['64:ff9b::', 96], ['64:ff9b:1::', 48], // NAT64 can reach private IPv4
    ['100::', 64], ['2001::', 23], ['2001:db8::', 32], ['2002::', 16], // discard, IETF/Teredo, documentation, 6to4
    ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
  ] as const) NON_PUBLIC_V6.addSubnet(net, bits, 'ipv6');

  const LOOPBACK_V4 = new BlockList();
  LOOPBACK_V4.addSubnet('127.0.0.0', 8, 'ipv4');

  const MAPPED = new BlockList();
  MAPPED.addSubnet('::ffff:0:0', 96, 'ipv6');
  lists = { NON_PUBLIC_V4, NON_PUBLIC_V6, LOOPBACK_V4, MAPPED };
  return lists;
}

function refuse(message: string): SidecarError {
  return badRequest('webhook_url_refused', `webhook_url refused: ${message}`, { webhook_url: message });
}

function family(address: string): 4 | 6 {
  return isIPv4(address) ? 4 : 6;
}

function isMapped(address: string): boolean {
  return family(address) === 6 && blockLists().MAPPED.check(address, 'ipv6');
}

export function isLoopbackAddress(address: string): boolean {
  return family(address) === 4 ? blockLists().LOOPBACK_V4.check(address, 'ipv4') : new URL(`http://[${address}]/`).hostname === '[::1]';
}

export function isPublicAddress(address: string): boolean {
  const { NON_PUBLIC_V4, NON_PUBLIC_V6 } = blockLists();
  return family(address) === 4 ? !NON_PUBLIC_V4.check(address, 'ipv4') : !isMapped(address) && !NON_PUBLIC_V6.check(address, 'ipv6');
}

/** The host exactly as typed (between `//` and the port or path), lower-cased. */
function typedHost(raw: string): string | null {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#\\]*)/i.exec(raw);
  if (!m) return null;
  const authority = m[1]!;
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    return end < 0 ? null : authority.slice(0, end + 1).toLowerCase();
  }
  const colon = authority.lastIndexOf(':');
  return (colon < 0 ? authority : authority.slice(0, colon)).toLowerCase();
}

function hostAllowed(host: string, allowed: readonly string[]): boolean {
  return allowed.includes(host);
}

/**
 * Checks a webhook URL against the policy: at save time and again before every
 * send. Returns the address to connect to; throws a 400 naming the reason.
 */
export async function checkWebhookUrl(raw: string, policy: OutboundPolicy): Promise<CheckedUrl> {
  const input = raw.trim();
  if (input.length === 0 || input.length > 2048) throw refuse('it must be an http(s) URL of at most 2048 characters');
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw refuse('it is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse(`only http and https are allowed, not ${url.protocol}`);
  if (url.username || url.password) throw refuse('it must not carry a user name or password; put a secret in the path or verify the signature instead');
  const host = url.hostname;
  const typed = typedHost(input);
  if (typed !== host) {
    throw refuse(`the host must be written in its plain form (${host}); short, octal, hex, integer and encoded forms are not accepted`);
  }
  const literal = host.startsWith('[') ? host.slice(1, -1) : host;

  if (isIP(literal)) {
    if (isMapped(literal)) throw refuse(`${host} is an IPv4-mapped IPv6 address; write the IPv4 address itself`);
    if (isLoopbackAddress(literal)) return { url, address: { address: literal, family: family(literal) }, loopback: true };
    if (!isPublicAddress(literal)) throw refuse(`${host} is a private, link-local or reserved address; only loopback and public hosts the human allowed are reachable`);
    if (!hostAllowed(host, policy.allowedHosts)) throw notAllowed(host);
    if (url.protocol !== 'https:') throw refuse('a webhook to a host other than this machine must use https');
    return { url, address: { address: literal, family: family(literal) }, loopback: false };
  }

  // `localhost` is loopback by definition (RFC 6761); connect to 127.0.0.1 rather than trust a hosts file.
  if (host === 'localhost') return { url, address: { address: '127.0.0.1', family: 4 }, loopback: true };
  if (!hostAllowed(host, policy.allowedHosts)) throw notAllowed(host);
  if (url.protocol !== 'https:') throw refuse('a webhook to a host other than this machine must use https');
  let answers: ResolvedAddress[];
  try {
    answers = await (policy.resolve ?? systemResolver)(host);
  } catch (err) {
    throw refuse(`${host} could not be resolved (${(err as { code?: string }).code ?? 'lookup failed'})`);
  }
  if (answers.length === 0) throw refuse(`${host} did not resolve to any address`);
  for (const a of answers) {
    if (!isPublicAddress(a.address) || isMapped(a.address)) {
      throw refuse(`${host} resolves to ${a.address}, a loopback, private, link-local or reserved address`);
    }
  }
  return { url, address: answers[0]!, loopback: false };
}

function notAllowed(host: string): SidecarError {
  return refuse(
    `${host} is not loopback, and webhooks go only to this machine (127.0.0.1, [::1], localhost) unless the human allows the host: ` +
      `skillboss-sidecar rotation webhook-hosts --add ${host}`,
  );
}

/**
 * Validates an allow-list entry: a full host name in plain form. Addresses are
 * not accepted (the same rule as the dashboard's settings): numeric forms are
 * how filters get bypassed, and a public service has a name.
 */
export function normalizeAllowedHost(input: string): string {
  const s = input.trim().toLowerCase();
  let host: string;
  try {
    host = new URL(`https://${s}/`).hostname;
  } catch {
    throw new Error(`${JSON.stringify(input)} is not a host name`);
  }
  // Any spelling of an address (2130706433, 0x7f.1, [::1]) is refused as an address, whatever form it took.
  if (isIP(host.replace(/^\[|\]$/g, ''))) throw new Error(`${JSON.stringify(input)} is an address (${host}); allow a host name instead`);
  if (host !== s) throw new Error(`${JSON.stringify(input)} is not a plain host name (expected e.g. hooks.example.com)`);
  if (host === 'localhost' || host.endsWith('.localhost')) throw new Error('loopback is always allowed; list only other hosts');
  if (!/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/.test(host)) {
    throw new Error(`${host} is not a full host name (expected e.g. hooks.example.com)`);
  }
  return host;
}

/** A URL as it may appear in the audit log and messages: origin and path, never the query (it may hold a secret). */
export function describeUrl(url: string | URL): string {
  try {
    const u = typeof url === 'string' ? new URL(url) : url;
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
