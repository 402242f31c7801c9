// The network rule every host of the connector:source world enforces, as the
// Rust host does (host/src/sandbox.rs): the component may reach only the
// origins `allowed-origins(config)` declared; those must be https, or
// loopback (http or https) when the config itself names that origin.

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
 * The allow-list for `declared` (what the component returned for `config`).
 * Throws when the component declared something the rule forbids: that is a
 * host-side refusal, not a connector error.
 */
export function policyFromDeclared(declared, config) {
  const named = originsNamedIn(config);
  const origins = [];
  for (const text of declared) {
    const url = httpOrigin(text);
    if (!url) {
      throw new Error(`the component declared \`${text}\`, which is not an http(s) origin`);
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
