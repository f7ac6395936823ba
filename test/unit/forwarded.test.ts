// X-Forwarded-* behind TRUST_PROXY: believed only from trusted peers, walked hop by hop through a
// chain of trusted proxies, never spoofable by a client that connects directly, malformed values
// ignored; PUBLIC_URL over everything.
import { describe, expect, it } from 'vitest';
import { proxyTrust } from '../../src/http/forwarded.js';

const request = (headers: Record<string, string>, url = 'http://127.0.0.1:5000/v2/') => ({
  url,
  headers: new Headers(headers),
});

describe('origin', () => {
  const proxies = proxyTrust({ trustProxy: ['10.0.0.0/8', 'fd00::/8', '192.168.1.7'] });

  it("is the request's own scheme and Host when the peer is not a trusted proxy", () => {
    const spoof = {
      host: 'registry.local:5000',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.example',
    };
    expect(proxies.origin(request(spoof), { address: '203.0.113.9', encrypted: false })).toBe(
      'http://registry.local:5000',
    );
    expect(proxies.origin(request(spoof), { address: '203.0.113.9', encrypted: true })).toBe(
      'https://registry.local:5000',
    );
    // No TRUST_PROXY: nobody is believed, not even loopback.
    expect(
      proxyTrust({ trustProxy: [] }).origin(request(spoof), { address: '127.0.0.1', encrypted: false }),
    ).toBe('http://registry.local:5000');
  });

  it("is a trusted proxy's X-Forwarded-Proto and -Host, default ports dropped", () => {
    const headers = {
      host: 'node-1:5000',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'Registry.Example.com:443',
    };
    expect(proxies.origin(request(headers), { address: '10.1.2.3', encrypted: false })).toBe(
      'https://registry.example.com',
    );
    expect(proxies.origin(request(headers), { address: '::ffff:10.1.2.3', encrypted: false })).toBe(
      'https://registry.example.com',
    );
    expect(proxies.origin(request(headers), { address: 'fd12::5', encrypted: false })).toBe(
      'https://registry.example.com',
    );
    // Only the scheme: the Host header stays.
    expect(
      proxies.origin(request({ host: 'reg.example:8443', 'x-forwarded-proto': 'HTTPS' }), {
        address: '192.168.1.7',
        encrypted: false,
      }),
    ).toBe('https://reg.example:8443');
  });

  it('takes the value the outermost trusted proxy wrote when proxies append', () => {
    // client 203.0.113.9 → 10.0.0.1 (appends) → 10.0.0.2 (appends) → registry; the client sent its own values.
    const headers = {
      host: 'node-1:5000',
      'x-forwarded-for': '198.51.100.1, 203.0.113.9, 10.0.0.1',
      'x-forwarded-proto': 'http, https, http',
      'x-forwarded-host': 'evil.example, registry.example.com, proxy-2.internal',
    };
    expect(proxies.origin(request(headers), { address: '10.0.0.2', encrypted: false })).toBe(
      'https://registry.example.com',
    );
    // A proxy that replaces the values leaves one, which is taken.
    expect(
      proxies.origin(
        request({
          host: 'node-1:5000',
          'x-forwarded-for': '203.0.113.9, 10.0.0.1',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'registry.example.com',
        }),
        { address: '10.0.0.2', encrypted: false },
      ),
    ).toBe('https://registry.example.com');
  });

  it('ignores malformed forwarded values', () => {
    const peer = { address: '10.0.0.1', encrypted: false };
    const bads: Record<string, string>[] = [
      { 'x-forwarded-proto': 'gopher', 'x-forwarded-host': 'a b' },
      { 'x-forwarded-proto': '', 'x-forwarded-host': 'evil.example/path' },
      { 'x-forwarded-proto': 'javascript', 'x-forwarded-host': 'host:99999' },
      { 'x-forwarded-host': '[::1' },
      { 'x-forwarded-host': 'user@evil.example' },
    ];
    for (const bad of bads) {
      expect(proxies.origin(request({ host: 'reg.local:5000', ...bad }), peer)).toBe('http://reg.local:5000');
    }
    // A malformed Host header: the request's URL.
    expect(proxies.origin(request({ host: 'bad host' }), { address: '203.0.113.9', encrypted: false })).toBe(
      'http://127.0.0.1:5000',
    );
  });

  it('is PUBLIC_URL when set, whoever asks', () => {
    const fixed = proxyTrust({ trustProxy: ['10.0.0.0/8'], publicUrl: 'https://registry.example.com' });
    const headers = { host: 'node-1:5000', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'other.example' };
    expect(fixed.origin(request(headers), { address: '10.0.0.1', encrypted: false })).toBe(
      'https://registry.example.com',
    );
    expect(fixed.origin(request(headers), { address: '203.0.113.9', encrypted: true })).toBe(
      'https://registry.example.com',
    );
  });
});

describe('clientAddress', () => {
  const proxies = proxyTrust({ trustProxy: ['10.0.0.0/8', '2001:db8:1::/48'] });
  const xff = (value: string) => new Headers({ 'x-forwarded-for': value });

  it('is the peer when it is not trusted, whatever X-Forwarded-For says', () => {
    expect(proxies.clientAddress(xff('1.2.3.4'), { address: '203.0.113.9' })).toBe('203.0.113.9');
    expect(proxies.clientAddress(new Headers(), { address: '::ffff:203.0.113.9' })).toBe('203.0.113.9');
    expect(proxyTrust({ trustProxy: [] }).clientAddress(xff('1.2.3.4'), { address: '10.0.0.1' })).toBe(
      '10.0.0.1',
    );
    expect(proxies.clientAddress(new Headers(), { address: '2001:DB8:2::1' })).toBe('2001:db8:2::1');
  });

  it('is the right-most untrusted address behind trusted proxies', () => {
    // The client prepended a fake address; the proxy appended the real one.
    expect(proxies.clientAddress(xff('1.2.3.4, 203.0.113.9'), { address: '10.0.0.1' })).toBe('203.0.113.9');
    // A chain of two trusted proxies.
    expect(proxies.clientAddress(xff('1.2.3.4, 203.0.113.9, 10.9.9.9'), { address: '10.0.0.1' })).toBe(
      '203.0.113.9',
    );
    // IPv6, with and without brackets and ports; several header lines.
    const headers = new Headers();
    headers.append('x-forwarded-for', '2001:db8:ffff::7');
    headers.append('x-forwarded-for', '[2001:db8:1::5]:443');
    expect(proxies.clientAddress(headers, { address: '2001:db8:1::1' })).toBe('2001:db8:ffff::7');
    expect(proxies.clientAddress(xff('203.0.113.9:51234'), { address: '::ffff:10.0.0.1' })).toBe(
      '203.0.113.9',
    );
    // Every hop trusted: the left-most.
    expect(proxies.clientAddress(xff('10.0.0.3, 10.0.0.2'), { address: '10.0.0.1' })).toBe('10.0.0.3');
    // No X-Forwarded-For: the proxy itself.
    expect(proxies.clientAddress(new Headers(), { address: '10.0.0.1' })).toBe('10.0.0.1');
  });

  it('stops at a malformed entry: what is left of it cannot be placed', () => {
    expect(proxies.clientAddress(xff('203.0.113.9, unknown'), { address: '10.0.0.1' })).toBe('10.0.0.1');
    expect(proxies.clientAddress(xff('203.0.113.9, 10.0.0.2, _hidden'), { address: '10.0.0.1' })).toBe(
      '10.0.0.1',
    );
    expect(proxies.clientAddress(xff('garbage, 203.0.113.9'), { address: '10.0.0.1' })).toBe('203.0.113.9');
    expect(proxies.clientAddress(xff(',,'), { address: '10.0.0.1' })).toBe('10.0.0.1');
    expect(proxies.clientAddress(xff('999.1.1.1'), { address: '10.0.0.1' })).toBe('10.0.0.1');
  });

  it('refuses a TRUST_PROXY entry that is no address or range', () => {
    expect(() => proxyTrust({ trustProxy: ['10.0.0.0/33'] })).toThrow(/10\.0\.0\.0\/33/);
    expect(() => proxyTrust({ trustProxy: ['proxy.internal'] })).toThrow(/proxy\.internal/);
  });
});
