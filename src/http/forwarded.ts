// Who is asking, and at which URL, behind reverse proxies: X-Forwarded-For/-Proto/-Host are believed
// only when the connection comes from an address in TRUST_PROXY, since any client can send them. With
// a chain of proxies, each hop is believed only as far as it is trusted: the walk goes from the peer
// leftwards through X-Forwarded-For and stops at the first address that is not a trusted proxy.
import { BlockList, isIP } from 'node:net';
import { parseAddressRange } from '../config-security.js';

export interface ProxyTrust {
  trustProxy: readonly string[];
  publicUrl?: string;
}

export interface TrustedProxies {
  /**
   * The origin clients see (`https://host:port`): PUBLIC_URL when set; else X-Forwarded-Proto and
   * X-Forwarded-Host only when the peer address is trusted; else the request's own scheme (https when
   * the socket is TLS) and Host header.
   */
  origin(request: { url: string; headers: Headers }, peer: { address?: string; encrypted: boolean }): string;
  /**
   * The client's address for rate limits: the peer, or — when the peer is trusted — the right-most
   * untrusted address in X-Forwarded-For.
   */
  clientAddress(headers: Headers, peer: { address?: string }): string;
}

/** Compiles TRUST_PROXY once (node:net BlockList). Throws on an entry that is no address or range. */
export function proxyTrust(config: ProxyTrust): TrustedProxies {
  const list = new BlockList();
  for (const entry of config.trustProxy) {
    const range = parseAddressRange(entry);
    if (range === undefined) throw new Error(`not an IP address or CIDR range: "${entry}"`);
    if (range.prefix === undefined) list.addAddress(range.address, range.family);
    else list.addSubnet(range.address, range.prefix, range.family);
  }
  const trusted = (address: string | undefined): boolean => {
    const ip = address === undefined ? undefined : plainAddress(address);
    return ip !== undefined && list.check(ip, isIP(ip) === 4 ? 'ipv4' : 'ipv6');
  };
  const empty = config.trustProxy.length === 0;

  /**
   * The client's address and how many trusted proxies (the peer included) the request went through.
   * A malformed X-Forwarded-For entry ends the walk: what lies left of it cannot be placed.
   */
  const walk = (headers: Headers, peer: { address?: string }): { client: string; hops: number } => {
    let client = plainAddress(peer.address ?? '') ?? peer.address ?? '';
    if (empty || !trusted(client)) return { client, hops: 0 };
    let hops = 1;
    const chain = (headers.get('x-forwarded-for') ?? '').split(',');
    for (let i = chain.length - 1; i >= 0; i--) {
      const hop = plainAddress(chain[i] as string);
      if (hop === undefined) break;
      client = hop;
      if (!trusted(hop)) break;
      hops++;
    }
    return { client, hops };
  };

  return {
    origin(request, peer) {
      if (config.publicUrl !== undefined) return config.publicUrl;
      const own = new URL(request.url);
      let scheme = peer.encrypted ? 'https' : 'http';
      let host = validHost(request.headers.get('host')) ?? own.host;
      const { hops } = walk(request.headers, peer);
      if (hops > 0) {
        // A proxy that appends (rather than replaces) adds one value per hop: the one the outermost
        // trusted proxy wrote is `hops` from the right; a proxy that replaces leaves just one.
        const proto = forwardedValue(request.headers.get('x-forwarded-proto'), hops)?.toLowerCase();
        if (proto === 'http' || proto === 'https') scheme = proto;
        host = validHost(forwardedValue(request.headers.get('x-forwarded-host'), hops)) ?? host;
      }
      try {
        return new URL(`${scheme}://${host}`).origin;
      } catch {
        return `${scheme}://${own.host}`;
      }
    },
    clientAddress(headers, peer) {
      return walk(headers, peer).client;
    },
  };
}

/** The value `hops` from the right of a comma-separated header (the left-most when there are fewer). */
function forwardedValue(header: string | null, hops: number): string | undefined {
  if (header === null) return undefined;
  const values = header.split(',').map((value) => value.trim());
  return values[Math.max(0, values.length - hops)] || undefined;
}

/**
 * An address as BlockList and rate limits want it: without brackets, port or IPv6 zone, and an
 * IPv4-mapped IPv6 address as IPv4; undefined when it is not an address.
 */
function plainAddress(raw: string): string | undefined {
  let text = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text);
  if (bracketed) text = bracketed[1] as string;
  else if (/^[\d.]+:\d{1,5}$/.test(text)) text = text.slice(0, text.lastIndexOf(':'));
  text = text.replace(/%[\w.-]+$/, '');
  const version = isIP(text);
  if (version === 0) return undefined;
  if (version === 6) {
    const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(text);
    if (mapped && isIP(mapped[1] as string) === 4) return mapped[1];
    return text.toLowerCase();
  }
  return text;
}

/** `host`, `host:port`, `1.2.3.4:5` or `[::1]:5` as a URL would take it; undefined otherwise. */
function validHost(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  const host = value.trim();
  if (!/^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(host)) return undefined;
  try {
    new URL(`http://${host}`); // an out-of-range port or a malformed IPv6 literal throws
    return host;
  } catch {
    return undefined;
  }
}
