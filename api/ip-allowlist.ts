import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Turns `::ffff:10.1.2.3` into `10.1.2.3`, so one address has one form whatever the socket says. */
function normaliseAddress(address: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (address as ipaddr.IPv6).toIPv4Address();
  }

  return address;
}

function parseRange(entry: string): Range {
  const text = entry.trim();
  const [address, prefix] = text.includes('/')
    ? ipaddr.parseCIDR(text)
    : (() => {
        const parsed = ipaddr.parse(text);

        return [parsed, parsed.kind() === 'ipv4' ? 32 : 128] as Range;
      })();

  // An IPv4-mapped IPv6 range such as ::ffff:10.0.0.0/104 means the IPv4 range 10.0.0.0/8.
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
    return [(address as ipaddr.IPv6).toIPv4Address(), prefix - 96];
  }

  return [address, prefix];
}

/**
 * Validates one allowlist entry (a CIDR or a single IPv4/IPv6 address) and returns its canonical
 * CIDR form with host bits cleared; throws with a readable message if it is neither.
 */
export function normaliseAllowlistEntry(entry: string): string {
  let range: Range;
  try {
    range = parseRange(entry);
  } catch {
    throw new Error(`"${entry}" is not an IPv4 or IPv6 address or CIDR range`);
  }

  const [address, prefix] = range;
  const network =
    address.kind() === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${prefix}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${prefix}`);

  return `${network.toString()}/${prefix}`;
}

/** Whether the client address falls in one of the ranges; an empty allowlist allows everyone. */
export function isAddressAllowed(clientIp: string, allowlist: readonly string[]): boolean {
  if (allowlist.length === 0) {
    return true;
  }
  if (!ipaddr.isValid(clientIp)) {
    return false;
  }

  const address = normaliseAddress(ipaddr.parse(clientIp));

  return allowlist.some((entry) => {
    const [network, prefix] = parseRange(entry);

    return network.kind() === address.kind() && address.match(network, prefix);
  });
}
