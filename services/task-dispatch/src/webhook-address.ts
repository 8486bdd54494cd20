import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent } from 'undici';
import { badRequest, unprocessable } from '@fairlabel/http';

/**
 * Outbound webhooks reach public addresses only (SSRF): a receiver URL must not lead the platform to
 * its own Postgres or Redis, the cloud metadata service (169.254.169.254), a private network or the
 * gateway itself. An address is public when ipaddr.js classifies it as `unicast` after unwrapping an
 * IPv4-mapped IPv6 address — so loopback, private (10/8, 172.16/12, 192.168/16), link-local, CGNAT
 * (100.64/10), unique-local (fc00::/7), unspecified (0.0.0.0, ::), multicast, broadcast, reserved,
 * NAT64, 6to4 and Teredo are all refused — unless the operator allow-lists its range
 * (WEBHOOK_ALLOW_PRIVATE_CIDRS, for self-hosted receivers on a private network).
 *
 * It is checked twice: when an endpoint is registered (early, readable refusal) and at every delivery
 * on the address the connection actually uses — the delivery's DNS lookup goes through `checkedLookup`,
 * which refuses a name that now resolves inside (DNS rebinding) and hands the socket the address it
 * checked, so nothing is resolved twice. Odd IPv4 spellings (2130706433, 0x7f000001, 127.1, 0177.0.0.1)
 * are normalised by the WHATWG URL parser before the check, exactly as fetch would read them. Redirects
 * are never followed (`redirect: 'manual'`), so a public receiver cannot bounce a delivery inside.
 */
export interface WebhookAddressPolicy {
  /** Ranges that are allowed although not public. */
  allow: [ipaddr.IPv4 | ipaddr.IPv6, number][];
  /** The resolver (dns.lookup by default; tests pass one that plays DNS rebinding). */
  lookup: (hostname: string) => Promise<LookupAddress[]>;
}

export class AddressNotAllowed extends Error {
  override readonly name = 'AddressNotAllowed';
  readonly code = 'EADDRNOTALLOWED';
  constructor(
    readonly address: string,
    readonly range: string,
  ) {
    super(`${address} is a ${range} address; webhooks reach public addresses only`);
  }
}

/** Parses WEBHOOK_ALLOW_PRIVATE_CIDRS ("127.0.0.0/8,10.1.0.0/16,fd00::/8"); throws on a bad entry. */
export function parseAllowList(value: string): [ipaddr.IPv4 | ipaddr.IPv6, number][] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((cidr) => ipaddr.parseCIDR(cidr));
}

const systemLookup = (hostname: string) =>
  new Promise<LookupAddress[]>((resolve, reject) => dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

export function webhookAddressPolicy(allowPrivateCidrs: string, lookup: WebhookAddressPolicy['lookup'] = systemLookup): WebhookAddressPolicy {
  return { allow: parseAllowList(allowPrivateCidrs), lookup };
}

/** Why `address` may not be reached (its range), or null when it may. */
export function refusedRange(policy: WebhookAddressPolicy, address: string): string | null {
  if (!ipaddr.isValid(address)) return 'unparseable';
  // Unwraps ::ffff:a.b.c.d, so a mapped loopback is judged as loopback.
  const addr = ipaddr.process(address);
  const range = addr.range();
  if (range === 'unicast') return null;
  for (const [net, bits] of policy.allow) {
    if (net.kind() === addr.kind() && addr.match(net, bits)) return null;
  }
  return range;
}

function assertAllowed(policy: WebhookAddressPolicy, address: string): void {
  const range = refusedRange(policy, address);
  if (range) throw new AddressNotAllowed(address, range);
}

/** The host of a URL as the socket sees it: without IPv6 brackets. */
function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/**
 * The URL a client registers, or a 400 `bad_url` (not an absolute http(s) URL, credentials in it, no
 * host, port 0), or a 422 `url_not_public` when its host is, or resolves to, an address the policy
 * refuses. A name that does not resolve now is accepted (the receiver may not be up yet); every
 * delivery is checked again.
 */
export async function checkWebhookUrl(policy: WebhookAddressPolicy, raw: string): Promise<string> {
  const bad = (message: string) => badRequest('bad_url', message, [{ path: 'body.url', message }]);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad('not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad('must be an http:// or https:// URL');
  if (url.username || url.password) throw bad('must not hold credentials (user:password@)');
  if (!url.hostname) throw bad('has no host');
  if (url.port === '0') throw bad('port 0 is not a port');
  const host = hostOf(url);
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await policy.lookup(host)).map((a) => a.address);
    } catch {
      addresses = [];
    }
  }
  for (const address of addresses) {
    const range = refusedRange(policy, address);
    if (range) {
      const message = `${url.hostname} is${address === host ? '' : ` ${address},`} a ${range} address: webhooks reach public addresses only`;
      throw unprocessable('url_not_public', message, [{ path: 'body.url', message }]);
    }
  }
  // Stored as the URL parser wrote it, so what is checked at delivery is what was checked here.
  return url.href;
}

/**
 * Refuses a delivery URL whose host is an IP literal the policy does not allow. (A socket connects to
 * a literal without a lookup, so the agent's lookup cannot see it.) Names are checked by the agent.
 */
export function assertDeliverable(policy: WebhookAddressPolicy, raw: string): void {
  const url = new URL(raw);
  const host = hostOf(url);
  if (isIP(host)) assertAllowed(policy, host);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `connect.lookup` for undici: resolves, refuses when any address is not allowed, and gives the
 * socket the checked addresses. Any address refused fails the whole name, so a record set mixing a
 * public and an internal address cannot be used to reach inside on a retry.
 */
export function checkedLookup(policy: WebhookAddressPolicy) {
  return (hostname: string, options: { all?: boolean } | number | undefined, callback: LookupCallback) => {
    policy
      .lookup(hostname)
      .then((addresses) => {
        if (addresses.length === 0) throw Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' });
        for (const a of addresses) assertAllowed(policy, a.address);
        if (typeof options === 'object' && options?.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      })
      .catch((err: NodeJS.ErrnoException) => callback(err, ''));
  };
}

/** The dispatcher of webhook deliveries: every connection it opens went through `checkedLookup`. */
export function webhookAgent(policy: WebhookAddressPolicy): Agent {
  return new Agent({ connect: { lookup: checkedLookup(policy) as never }, connections: 64 });
}
