/**
 * Outbound address policy: decides which URLs and resolved addresses the service may connect to, so
 * that a URL supplied by a caller (a recording link, a webhook target) cannot make the service reach
 * loopback, private networks or cloud metadata endpoints.
 *
 * Two checks work together. `checkUrl` judges the URL itself: its scheme, embedded credentials and,
 * when the host is a literal address, that address after WHATWG URL parsing has normalised the
 * decimal, octal, hex and shortened forms. `lookup` is handed to `http.request`/`https.request` and
 * judges every address a host name resolves to at the moment of connecting, so the address checked is
 * the address used and a name cannot be re-pointed between check and connect.
 */
import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;

/** The named address range an IP address falls in; only `public` is reachable by default. */
export type AddressRange =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'linkLocal'
  | 'carrierGradeNat'
  | 'multicast'
  | 'broadcast'
  | 'documentation'
  | 'benchmarking'
  | 'ietfProtocol'
  | 'reserved'
  | 'uniqueLocal'
  | 'siteLocal'
  | 'discard'
  | 'nat64Local'
  | 'invalid';

/** How an IPv6 address carries an IPv4 address whose range decides the verdict. */
export type Ipv4Embedding =
  'ipv4Mapped' | 'ipv4Translated' | 'ipv4Compatible' | 'nat64' | '6to4' | 'teredo';

export type AddressClassification = {
  allowed: boolean;
  range: AddressRange;
  /** The address in canonical form (RFC 5952 for IPv6). */
  address: string;
  /** Set when an IPv6 address embeds the IPv4 address that was judged instead of it. */
  embedded?: { ipv4: string; via: Ipv4Embedding };
};

const rangeDescriptions: Record<AddressRange, string> = {
  public: 'a public address',
  unspecified: 'an unspecified address',
  loopback: 'a loopback address',
  private: 'a private network address',
  linkLocal: 'a link-local address',
  carrierGradeNat: 'a carrier-grade NAT address',
  multicast: 'a multicast address',
  broadcast: 'a broadcast address',
  documentation: 'a documentation-only address',
  benchmarking: 'a benchmarking-only address',
  ietfProtocol: 'an IETF protocol assignment address',
  reserved: 'a reserved address',
  uniqueLocal: 'a unique-local (private) IPv6 address',
  siteLocal: 'a site-local IPv6 address',
  discard: 'a discard-only IPv6 address',
  nat64Local: 'a local-use NAT64 address',
  invalid: 'not a valid IP address',
};

const embeddingDescriptions: Record<Ipv4Embedding, string> = {
  ipv4Mapped: 'IPv4-mapped',
  ipv4Translated: 'IPv4-translated',
  ipv4Compatible: 'IPv4-compatible',
  nat64: 'NAT64 of',
  '6to4': '6to4 of',
  teredo: 'Teredo of',
};

function cidrTable<T extends IPv4 | IPv6>(
  entries: Array<[string, AddressRange]>,
  parse: (cidr: string) => [T, number],
): Array<{ cidr: [T, number]; range: AddressRange }> {
  return entries.map(([cidr, range]) => ({ cidr: parse(cidr), range }));
}

// First match wins, so the broadcast address is listed before the reserved block holding it.
const ipv4Ranges = cidrTable(
  [
    ['0.0.0.0/8', 'unspecified'],
    ['10.0.0.0/8', 'private'],
    ['100.64.0.0/10', 'carrierGradeNat'],
    ['127.0.0.0/8', 'loopback'],
    ['169.254.0.0/16', 'linkLocal'],
    ['172.16.0.0/12', 'private'],
    ['192.0.0.0/24', 'ietfProtocol'],
    ['192.0.2.0/24', 'documentation'],
    ['192.88.99.0/24', 'reserved'],
    ['192.168.0.0/16', 'private'],
    ['198.18.0.0/15', 'benchmarking'],
    ['198.51.100.0/24', 'documentation'],
    ['203.0.113.0/24', 'documentation'],
    ['224.0.0.0/4', 'multicast'],
    ['255.255.255.255/32', 'broadcast'],
    ['240.0.0.0/4', 'reserved'],
  ],
  (cidr) => ipaddr.IPv4.parseCIDR(cidr),
);

const ipv6Ranges = cidrTable(
  [
    ['::/128', 'unspecified'],
    ['::1/128', 'loopback'],
    ['64:ff9b:1::/48', 'nat64Local'],
    ['100::/64', 'discard'],
    ['2001:db8::/32', 'documentation'],
    ['2001:2::/48', 'benchmarking'],
    ['3fff::/20', 'documentation'],
    ['fc00::/7', 'uniqueLocal'],
    ['fe80::/10', 'linkLocal'],
    ['fec0::/10', 'siteLocal'],
    ['ff00::/8', 'multicast'],
  ],
  (cidr) => ipaddr.IPv6.parseCIDR(cidr),
);

const ipv6Embeddings: Array<{ cidr: [IPv6, number]; via: Ipv4Embedding }> = [
  { cidr: ipaddr.IPv6.parseCIDR('::ffff:0:0/96'), via: 'ipv4Mapped' },
  { cidr: ipaddr.IPv6.parseCIDR('::ffff:0:0:0/96'), via: 'ipv4Translated' },
  { cidr: ipaddr.IPv6.parseCIDR('64:ff9b::/96'), via: 'nat64' },
  { cidr: ipaddr.IPv6.parseCIDR('2002::/16'), via: '6to4' },
  { cidr: ipaddr.IPv6.parseCIDR('2001::/32'), via: 'teredo' },
  { cidr: ipaddr.IPv6.parseCIDR('::/96'), via: 'ipv4Compatible' },
];

// Everything outside 2000::/3 is unassigned or special-purpose; nothing legitimate is served there.
const ipv6GlobalUnicast = ipaddr.IPv6.parseCIDR('2000::/3');

function ipv4FromParts(high: number, low: number): IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

function classifyIpv4(address: IPv4): AddressClassification {
  const match = ipv4Ranges.find((entry) => address.match(entry.cidr));
  const range = match?.range ?? 'public';

  return { allowed: range === 'public', range, address: address.toString() };
}

/** The IPv4 addresses an IPv6 address carries, most decisive first. */
function embeddedIpv4(address: IPv6, via: Ipv4Embedding): IPv4[] {
  const parts = address.parts;
  const part = (index: number) => parts[index] ?? 0;

  switch (via) {
    case '6to4':
      return [ipv4FromParts(part(1), part(2))];
    case 'teredo':
      // The client address is stored inverted; the relay server's sits in plain form before it.
      return [ipv4FromParts(part(6) ^ 0xffff, part(7) ^ 0xffff), ipv4FromParts(part(2), part(3))];
    default:
      return [ipv4FromParts(part(6), part(7))];
  }
}

function classifyIpv6(address: IPv6): AddressClassification {
  const canonical = address.toRFC5952String();
  const fixed = ipv6Ranges.find((entry) => address.match(entry.cidr));
  // :: and ::1 sit inside the IPv4-compatible block but are addresses in their own right.
  if (fixed && (fixed.range === 'unspecified' || fixed.range === 'loopback')) {
    return { allowed: false, range: fixed.range, address: canonical };
  }

  const embedding = ipv6Embeddings.find((entry) => address.match(entry.cidr));
  if (embedding) {
    const carried = embeddedIpv4(address, embedding.via);
    const verdicts = carried.map(classifyIpv4);
    const refused = verdicts.find((verdict) => !verdict.allowed);
    const decisive = refused ?? verdicts[0];
    if (decisive) {
      return {
        allowed: refused === undefined,
        range: decisive.range,
        address: canonical,
        embedded: { ipv4: decisive.address, via: embedding.via },
      };
    }
  }

  if (fixed) {
    return { allowed: false, range: fixed.range, address: canonical };
  }
  if (!address.match(ipv6GlobalUnicast)) {
    return { allowed: false, range: 'reserved', address: canonical };
  }

  return { allowed: true, range: 'public', address: canonical };
}

function parseAddress(ip: string): IPv4 | IPv6 | null {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  if (!ipaddr.isValid(bare)) {
    return null;
  }

  return ipaddr.parse(bare);
}

/**
 * Names the range an IP address belongs to and whether it may be connected to by default. IPv6
 * addresses that carry an IPv4 address (mapped, translated, compatible, NAT64, 6to4, Teredo) are
 * judged by the IPv4 address they carry. Anything that does not parse is refused as `invalid`.
 */
export function classifyAddress(ip: string): AddressClassification {
  const parsed = parseAddress(ip.trim());
  if (parsed === null) {
    return { allowed: false, range: 'invalid', address: ip };
  }

  return parsed.kind() === 'ipv4' ? classifyIpv4(parsed as IPv4) : classifyIpv6(parsed as IPv6);
}

/** Whether an IP address is a public, globally routable unicast address. */
export function isPublicAddress(ip: string): boolean {
  return classifyAddress(ip).allowed;
}

/** Describes an address verdict in words, e.g. `127.0.0.1, a loopback address`. */
export function describeAddress(verdict: AddressClassification): string {
  const base = `${verdict.address}, ${rangeDescriptions[verdict.range]}`;
  if (verdict.embedded) {
    return `${base} (${embeddingDescriptions[verdict.embedded.via]} ${verdict.embedded.ipv4})`;
  }
  if (verdict.address === '169.254.169.254') {
    return `${base} (the cloud metadata endpoint)`;
  }

  return base;
}

/** Why a URL or an address was refused. */
export type RefusalCause = 'invalid_url' | 'scheme' | 'credentials' | 'address' | 'host_name';

/**
 * Thrown (or passed to a lookup callback) when a URL or the address it resolves to is refused.
 * `reason` is a sentence for people, e.g. `recording URL resolves to 127.0.0.1, a loopback address`;
 * `detail` is the same sentence without its subject, for callers that name the subject themselves.
 */
export class AddressRefusedError extends Error {
  override readonly name = 'AddressRefusedError';
  /** Node's network errors carry a code; giving ours one keeps generic handlers from guessing. */
  readonly code = 'ERR_ADDRESS_REFUSED';
  readonly reason: string;
  readonly detail: string;
  readonly kind: RefusalCause;
  readonly address: string | undefined;
  readonly range: AddressRange | undefined;

  constructor(label: string, detail: string, kind: RefusalCause, verdict?: AddressClassification) {
    super(`${label} ${detail}`);
    this.reason = this.message;
    this.detail = detail;
    this.kind = kind;
    this.address = verdict?.address;
    this.range = verdict?.range;
  }
}

/** Resolves a host name to every address it has, as `dns.lookup` with `all: true` does. */
export type ResolveAll = (
  hostname: string,
  options: dns.LookupOptions,
) => Promise<dns.LookupAddress[]>;

export type AddressPolicyOptions = {
  /**
   * Host names, IP addresses and CIDR blocks that may be reached even though they are private, for
   * local development and tests (`localhost`, `127.0.0.1`, `10.0.0.0/8`, `::1`). Empty by default.
   * A listed name is trusted whatever it resolves to; a listed address or block is trusted under
   * any name.
   */
  allowPrivateHosts?: readonly string[];
  /** How refusals name the URL, e.g. `recording URL` or `webhook URL`. Defaults to `URL`. */
  label?: string;
  /** The resolver behind `lookup`; defaults to the operating system's, via `dns.lookup`. */
  resolve?: ResolveAll;
};

export type AddressPolicy = {
  /**
   * Throws `AddressRefusedError` unless the URL is `http:` or `https:`, carries no user name or
   * password, and does not name a refused literal address or a `localhost` name; returns the parsed
   * URL. Host names are judged later, by `lookup`, when they are resolved for connecting, so every
   * request must use that lookup too.
   */
  checkUrl(url: string | URL): URL;
  /** A `dns.lookup`-compatible function for `http.request({ lookup })` that refuses bad addresses. */
  lookup: LookupFunction;
  /** Whether a single resolved address may be connected to under this policy. */
  isAllowedAddress(ip: string): boolean;
};

type AllowList = {
  names: Set<string>;
  blocks: Array<[IPv4 | IPv6, number]>;
};

const hostNamePattern = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

function normaliseHostName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

function parseAllowList(entries: readonly string[]): AllowList {
  const allow: AllowList = { names: new Set(), blocks: [] };

  for (const entry of entries) {
    const value = entry.trim().replace(/^\[(.*)\]$/, '$1');
    if (ipaddr.isValidCIDR(value)) {
      allow.blocks.push(ipaddr.parseCIDR(value));
    } else if (ipaddr.isValid(value)) {
      const address = ipaddr.parse(value);
      allow.blocks.push([address, address.kind() === 'ipv4' ? 32 : 128]);
    } else if (hostNamePattern.test(normaliseHostName(value))) {
      allow.names.add(normaliseHostName(value));
    } else {
      throw new Error(
        `allowPrivateHosts entry "${entry}" is neither a host name, an IP nor a CIDR`,
      );
    }
  }

  return allow;
}

function inAllowedBlock(allow: AllowList, ip: string): boolean {
  const address = parseAddress(ip);
  if (address === null) {
    return false;
  }

  const candidates: Array<IPv4 | IPv6> = [address];
  if (address.kind() === 'ipv6' && (address as IPv6).isIPv4MappedAddress()) {
    candidates.push((address as IPv6).toIPv4Address());
  }

  return allow.blocks.some(([block, bits]) =>
    candidates.some(
      (candidate) => candidate.kind() === block.kind() && candidate.match(block, bits),
    ),
  );
}

function isLocalhostName(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost');
}

function defaultResolve(
  hostname: string,
  options: dns.LookupOptions,
): Promise<dns.LookupAddress[]> {
  return dns.promises.lookup(hostname, { ...options, all: true });
}

/**
 * Builds the policy used for every outbound request to a caller-supplied URL.
 *
 * Credentials in a URL (`https://user:pass@host/`) are refused rather than stripped: they would be
 * logged and stored with the URL, and the `user@host` form is a classic way to disguise the real
 * host. Callers that need them pass them separately (e.g. the download's `basicAuth`).
 */
export function createAddressPolicy(options: AddressPolicyOptions = {}): AddressPolicy {
  const allow = parseAllowList(options.allowPrivateHosts ?? []);
  const label = options.label ?? 'URL';
  const resolve = options.resolve ?? defaultResolve;

  function isAllowedAddress(ip: string): boolean {
    return classifyAddress(ip).allowed || inAllowedBlock(allow, ip);
  }

  function refuseAddress(ip: string, subject: string): AddressRefusedError | null {
    if (isAllowedAddress(ip)) {
      return null;
    }
    const verdict = classifyAddress(ip);

    return new AddressRefusedError(
      label,
      `${subject}resolves to ${describeAddress(verdict)}`,
      'address',
      verdict,
    );
  }

  function checkUrl(input: string | URL): URL {
    let url: URL;
    try {
      url = new URL(input.toString());
    } catch {
      throw new AddressRefusedError(label, 'is not a valid URL', 'invalid_url');
    }

    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new AddressRefusedError(
        label,
        `uses ${url.protocol}, only http: and https: are allowed`,
        'scheme',
      );
    }
    if (url.username !== '' || url.password !== '') {
      throw new AddressRefusedError(
        label,
        'carries a user name or password; pass credentials separately',
        'credentials',
      );
    }

    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (ipaddr.isValid(host)) {
      const refusal = refuseAddress(host, '');
      if (refusal) {
        throw refusal;
      }

      return url;
    }

    const name = normaliseHostName(host);
    // Resolvers answer loopback for these names (RFC 6761) without consulting DNS at all.
    if (isLocalhostName(name) && !allow.names.has(name)) {
      throw new AddressRefusedError(label, `host ${name} is a loopback name`, 'host_name', {
        allowed: false,
        range: 'loopback',
        address: name,
      });
    }

    return url;
  }

  const lookup: LookupFunction = (hostname, lookupOptions, callback) => {
    const name = normaliseHostName(hostname);
    const trustedName = allow.names.has(name);

    resolve(hostname, { ...lookupOptions, all: true }).then(
      (addresses) => {
        // One forbidden answer refuses the host: a name mixing public and private addresses is
        // exactly what a rebinding attempt looks like.
        const refusal = trustedName
          ? null
          : addresses
              .map((entry) => refuseAddress(entry.address, `host ${name} `))
              .find((error) => error !== null);
        if (refusal) {
          callback(refusal, '', undefined);
          return;
        }
        if (addresses.length === 0) {
          const error: NodeJS.ErrnoException = new Error(`${hostname} has no addresses`);
          error.code = 'ENOTFOUND';
          callback(error, '', undefined);
          return;
        }

        if (lookupOptions.all) {
          callback(null, addresses);
          return;
        }
        const first = addresses[0] as dns.LookupAddress;
        callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', undefined),
    );
  };

  return { checkUrl, lookup, isAllowedAddress };
}
