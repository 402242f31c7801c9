// The network rule every host of the connector:source world enforces, as the
// Rust host does (host/src/network.rs): the component may reach only the
// origins `allowed-origins(config)` declared, each within the operator's
// grant; those must be https, or
// loopback (http or https) when the config itself names that origin. After
// name resolution, only origins the config names may reach addresses outside
// the public internet (host/src/address_class.rs).

import dns from 'node:dns';
import { isIP, isIPv4 } from 'node:net';

/** `scheme://host[:port]` of an http(s) URL, or null. */
function httpOrigin(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  return url;
}

function isLoopback(url) {
  const host = url.hostname; // WHATWG: lower-cased, IPv4 normalised, IPv6 bracketed
  if (host === 'localhost') return true;
  if (/^127\.\d+\.\d+\.\d+$/.test(host)) return true;
  return host === '[::1]';
}

/** Origins of every URL-shaped string anywhere in the config document. */
function originsNamedIn(config) {
  const out = new Set();
  const walk = (value) => {
    if (typeof value === 'string') {
      const url = httpOrigin(value);
      if (url) out.add(url.origin);
    } else if (Array.isArray(value)) {
      value.forEach(walk);
    } else if (value && typeof value === 'object') {
      Object.values(value).forEach(walk);
    }
  };
  try {
    walk(JSON.parse(config));
  } catch {
    // an unparsable config names nothing
  }
  return out;
}

/**
 * This host's grant: the origins the config names, or those of `allowed`
 * (`--allow-origin`), each of which the config must name.
 */
export function configGrant(config, allowed = []) {
  const named = originsNamedIn(config);
  if (allowed.length === 0) return [...named];
  return allowed.map((text) => {
    const url = httpOrigin(text);
    if (!url || !named.has(url.origin)) {
      throw new Error(`--allow-origin ${text}: the config names no such origin`);
    }
    return url.origin;
  });
}

/**
 * The allow-list for `declared` (what the component returned for `config`)
 * within `grant`: a list of origins, or 'declared' to trust the declaration
 * (an explicit choice; there is no default). Throws when the component
 * declared something the grant or the rule forbids: that is a host-side
 * refusal, not a connector error.
 */
export function policyFromDeclared(declared, config, grant) {
  if (grant !== 'declared' && !Array.isArray(grant)) {
    throw new TypeError("grant must be a list of origins or 'declared'");
  }
  const named = originsNamedIn(config);
  const origins = [];
  for (const text of declared) {
    const url = httpOrigin(text);
    if (!url) {
      throw new Error(`the component declared \`${text}\`, which is not an http(s) origin`);
    }
    if (grant !== 'declared' && !grant.includes(url.origin)) {
      throw new Error(`the component declared \`${url.origin}\`, which the operator's grant does not include`);
    }
    if (isLoopback(url)) {
      if (!named.has(url.origin)) {
        throw new Error(
          `the component declared loopback origin \`${text}\`, which the config does not name`,
        );
      }
    } else if (url.protocol !== 'https:') {
      throw new Error(`the component declared \`${text}\`: plain http is allowed only to loopback`);
    }
    origins.push(url.origin);
  }
  return origins;
}

/**
 * The parsed URL when `origins` admits it, else a `denied` transport error's
 * message.
 */
export function admit(origins, text) {
  let url;
  try {
    url = new URL(text);
  } catch (e) {
    return { denied: `malformed URL: ${e.message}` };
  }
  if ((url.protocol === 'http:' || url.protocol === 'https:') && origins.includes(url.origin)) {
    return { url };
  }
  return { denied: `origin ${url.origin} is not in the allow-list` };
}

/** The origins of `origins` the config names: they alone may resolve to private or local addresses. */
export function namedOrigins(origins, config) {
  const named = originsNamedIn(config);
  return origins.filter((origin) => named.has(origin));
}

function v4Range([a, b, c, d]) {
  if (a === 0) return '0.0.0.0/8';
  if (a === 10) return '10.0.0.0/8';
  if (a === 100 && (b & 0xc0) === 64) return '100.64.0.0/10';
  if (a === 127) return '127.0.0.0/8';
  if (a === 169 && b === 254) return '169.254.0.0/16';
  if (a === 172 && (b & 0xf0) === 16) return '172.16.0.0/12';
  if (a === 192 && b === 168) return '192.168.0.0/16';
  if (a >= 224 && a <= 239) return '224.0.0.0/4';
  if (a === 255 && b === 255 && c === 255 && d === 255) return '255.255.255.255';
  return null;
}

/** The eight 16-bit groups of a valid IPv6 address text. */
function v6Groups(text) {
  const last = text.lastIndexOf(':');
  const tail = text.slice(last + 1);
  let groups = text;
  if (tail.includes('.')) {
    const [a, b, c, d] = tail.split('.').map(Number);
    groups = `${text.slice(0, last + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (part) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const [left, right] = groups.split('::').map(parse);
  if (right === undefined) return left;
  return [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The range `address` (an IP address, brackets and zone allowed) falls in
 * when it is not a public internet address, else null; IPv6 forms that embed
 * an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by it.
 */
export function nonPublicRange(address) {
  const text = address.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  if (isIPv4(text)) return v4Range(text.split('.').map(Number));
  if (!isIP(text)) throw new TypeError(`not an IP address: ${address}`);
  const g = v6Groups(text);
  const zeros = (from, to) => g.slice(from, to).every((x) => x === 0);
  const embedded = (high, low) => v4Range([high >> 8, high & 0xff, low >> 8, low & 0xff]);
  if (zeros(0, 8)) return '::';
  if (zeros(0, 7) && g[7] === 1) return '::1';
  if (zeros(0, 5) && (g[5] === 0xffff || g[5] === 0)) return embedded(g[6], g[7]);
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return embedded(g[6], g[7]);
  if (g[0] === 0x2002) return embedded(g[1], g[2]);
  if ((g[0] & 0xfe00) === 0xfc00) return 'fc00::/7';
  if ((g[0] & 0xffc0) === 0xfe80) return 'fe80::/10';
  if ((g[0] & 0xffc0) === 0xfec0) return 'fec0::/10';
  if ((g[0] & 0xff00) === 0xff00) return 'ff00::/8';
  return null;
}

/** A request refused for where its name resolves: a `denied` transport error. */
export class AddressDenied extends Error {}

/** The refusal for `host` when none of `addresses` is public, else null. */
export function refusal(host, addresses) {
  if (addresses.some((a) => nonPublicRange(a) === null)) return null;
  const listed = addresses.map((a) => `${a} (${nonPublicRange(a)})`).join(', ');
  return new AddressDenied(
    `${host} resolves only to addresses outside the public internet, which the config does not name: ${listed}`,
  );
}

/**
 * A `lookup` for node:net and node:http that resolves with `lookup` and
 * keeps only public addresses, so nothing else is ever connected to.
 */
export function publicOnlyLookup(lookup = dns.lookup) {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error);
      const denied = refusal(hostname, addresses.map((a) => a.address));
      if (denied) return callback(denied);
      const kept = addresses.filter((a) => nonPublicRange(a.address) === null);
      if (options.all) return callback(null, kept);
      return callback(null, kept[0].address, kept[0].family);
    });
  };
}
