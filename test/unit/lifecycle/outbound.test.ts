/**
 * Where a rotation webhook may go. The bypass forms are the ones that beat
 * real SSRF filters (node `ip` CVE-2024-29415, GHSA-9g3w-r349-3vvw).
 */
import { describe, expect, it } from 'vitest';
import { SidecarError } from '../../../proxy/core/errors.js';
import { checkWebhookUrl, describeUrl, normalizeAllowedHost, type OutboundPolicy, type Resolver } from '../../../proxy/lifecycle/outbound.js';

const loopbackOnly: OutboundPolicy = { allowedHosts: [] };

async function refusal(url: string, policy: OutboundPolicy = loopbackOnly): Promise<string> {
  try {
    await checkWebhookUrl(url, policy);
  } catch (err) {
    expect(err).toBeInstanceOf(SidecarError);
    expect((err as SidecarError).status).toBe(400);
    expect((err as SidecarError).code).toBe('webhook_url_refused');
    return (err as SidecarError).message;
  }
  throw new Error(`${url} was accepted`);
}

describe('webhook URLs, by default (loopback only)', () => {
  it('accepts loopback in plain form and connects to the address it checked', async () => {
    const a = await checkWebhookUrl('http://127.0.0.1:8080/hook?x=1', loopbackOnly);
    expect(a).toMatchObject({ loopback: true, address: { address: '127.0.0.1', family: 4 } });
    expect((await checkWebhookUrl('http://[::1]:9/h', loopbackOnly)).address).toEqual({ address: '::1', family: 6 });
    expect((await checkWebhookUrl('http://127.8.9.10/h', loopbackOnly)).loopback).toBe(true);
    // localhost is pinned to 127.0.0.1 rather than looked up.
    expect((await checkWebhookUrl('http://LOCALHOST:3000/h', loopbackOnly)).address.address).toBe('127.0.0.1');
  });

  it('refuses a public host, naming why and how to allow it', async () => {
    const msg = await refusal('https://your-agent.com/key-rotated');
    expect(msg).toContain('your-agent.com is not loopback');
    expect(msg).toContain('rotation webhook-hosts --add your-agent.com');
    expect(await refusal('http://8.8.8.8/h')).toContain('not loopback');
  });

  it.each([
    ['http://127.1/h', 'plain form'],
    ['http://0177.0.0.1/h', 'plain form'],
    ['http://0x7f.0.0.1/h', 'plain form'],
    ['http://0x7f000001/h', 'plain form'],
    ['http://2130706433/h', 'plain form'],
    ['http://%31%32%37.0.0.1/h', 'plain form'],
    ['http://[::ffff:127.0.0.1]/h', 'plain form'],
    ['http://[::ffff:7f00:1]/h', 'IPv4-mapped'],
    ['http://[0:0:0:0:0:0:0:1]/h', 'plain form'],
    ['http://10.1/h', 'plain form'],
    ['http://012.0.0.1/h', 'plain form'],
    ['http://2852039166/h', 'plain form'], // 169.254.169.254, the cloud metadata address
    ['http://0xa9fea9fe/h', 'plain form'],
    ['http://[::ffff:a9fe:a9fe]/h', 'IPv4-mapped'],
    ['http://169.254.169.254/latest/meta-data', 'private, link-local or reserved'],
    ['http://10.0.0.1/h', 'private, link-local or reserved'],
    ['http://192.168.1.1/h', 'private, link-local or reserved'],
    ['http://0.0.0.0/h', 'private, link-local or reserved'],
    ['http://[fe80::1]/h', 'private, link-local or reserved'],
    ['http://[fd00::1]/h', 'private, link-local or reserved'],
    ['http://[::]/h', 'private, link-local or reserved'],
    ['http://user:pw@127.0.0.1/h', 'user name or password'],
    ['file:///etc/passwd', 'only http and https'],
    ['gopher://127.0.0.1/h', 'only http and https'],
    ['http:\\\\127.0.0.1\\h', 'plain form'],
  ])('refuses %s', async (url, why) => {
    expect(await refusal(url)).toContain(why);
  });
});

describe('webhook URLs, when the human allowed other hosts', () => {
  const resolveTo =
    (...addresses: string[]): Resolver =>
    async () =>
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

  it('accepts an allowed host over https that resolves to public addresses, pinned to the first', async () => {
    const a = await checkWebhookUrl('https://hooks.example.com/k', { allowedHosts: ['hooks.example.com'], resolve: resolveTo('93.184.216.34', '2606:2800:220:1::1') });
    expect(a).toMatchObject({ loopback: false, address: { address: '93.184.216.34', family: 4 } });
  });

  it('refuses plain http to another machine (the body holds a secret)', async () => {
    expect(await refusal('http://hooks.example.com/k', { allowedHosts: ['hooks.example.com'], resolve: resolveTo('93.184.216.34') })).toContain('must use https');
  });

  it.each([['127.0.0.1'], ['10.0.0.7'], ['169.254.169.254'], ['::ffff:a9fe:a9fe'], ['fd12::1'], ['100.64.0.1']])(
    'refuses an allowed name that resolves to %s (DNS rebinding)',
    async (addr) => {
      const msg = await refusal('https://hooks.example.com/k', { allowedHosts: ['hooks.example.com'], resolve: resolveTo('93.184.216.34', addr) });
      expect(msg).toContain(`resolves to ${addr}`);
    },
  );

  it('still refuses hosts that were not allowed, and private literals whatever the list says', async () => {
    const policy = { allowedHosts: ['hooks.example.com'], resolve: resolveTo('93.184.216.34') };
    expect(await refusal('https://evil.example.com/k', policy)).toContain('not loopback');
    expect(await refusal('https://hooks.example.com.evil.net/k', policy)).toContain('not loopback');
    for (const u of ['https://169.254.169.254/', 'https://0xa9fea9fe/', 'https://2852039166/', 'https://[::ffff:a9fe:a9fe]/', 'https://10.1/']) {
      await refusal(u, { allowedHosts: ['169.254.169.254', '10.0.0.1'], resolve: resolveTo('93.184.216.34') });
    }
  });

  it('validates allow-list entries: full host names only', () => {
    expect(normalizeAllowedHost(' Hooks.Example.COM ')).toBe('hooks.example.com');
    for (const bad of ['127.0.0.1', '2130706433', '0x7f.1', '::1', '[::1]', 'localhost', 'a.localhost', 'intranet', 'https://x.com', 'x.com/path', 'x.com:443', '*.example.com']) {
      expect(() => normalizeAllowedHost(bad), bad).toThrow();
    }
  });

  it('describes a URL without its query string', () => {
    expect(describeUrl('http://127.0.0.1:9/hook?token=secret')).toBe('http://127.0.0.1:9/hook');
  });
});
