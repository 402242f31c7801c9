// Secrets held by the host, as the Rust host holds them (host/src/secrets.rs):
// exports see a placeholder for each secret config field; the real value
// goes out only in request header values to that secret's origins, and every
// response is scrubbed of it before the component sees it.

import { randomBytes } from 'node:crypto';

/** The top-level config fields the component's spec marks `writeOnly: true`. */
export function proposedBySpec(spec) {
  try {
    const properties = JSON.parse(spec)?.properties ?? {};
    return Object.entries(properties)
      .filter(([, schema]) => schema?.writeOnly === true)
      .map(([name]) => name);
  } catch {
    return [];
  }
}

/** The forms a server may echo `value` in: as sent, JSON-escaped, percent-encoded. */
function forms(value) {
  const json = JSON.stringify(value).slice(1, -1);
  const percent = new URLSearchParams({ v: value }).toString().slice(2);
  return [...new Set([value, json.replaceAll('/', '\\/'), json, percent])].map((f) => Buffer.from(f));
}

/**
 * Seals `text` (a JSON object config): each field of `fields` ({name,
 * origins}) present as a string is replaced by a placeholder wherever its
 * value occurs in the document. Returns {sealed, secrets}; throws a message for a document that is not
 * JSON, or a secret that is not a string or is shorter than the Rust host's
 * MIN_SECRET_CHARS (8).
 */
export function seal(text, fields) {
  let document;
  try {
    document = JSON.parse(text);
  } catch (e) {
    throw new Error(`not valid JSON: ${e.message}`);
  }
  const secrets = [];
  for (const { name, origins } of fields) {
    const value = document?.[name];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') throw new Error(`field \`${name}\` is secret: it must be a string`);
    if (value === '' || secrets.some((s) => s.value === value)) continue;
    if ([...value].length < 8) {
      throw new Error(`field \`${name}\` is secret and must be at least 8 characters; no credential is shorter`);
    }
    const placeholder = `{{secret:${name}:${randomBytes(16).toString('hex')}}}`;
    secrets.push({ value, placeholder, origins });
  }
  if (secrets.length === 0) return { sealed: text, secrets };
  const scrub = (s) => secrets.reduce((t, secret) => t.replaceAll(secret.value, secret.placeholder), s);
  const walk = (value) => {
    if (typeof value === 'string') return scrub(value);
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [scrub(k), walk(v)]));
    }
    return value;
  };
  return { sealed: JSON.stringify(walk(document)), secrets };
}

/** Header pairs with the secrets `origin` may receive put into their values. */
export function reveal(secrets, origin, headers) {
  const allowed = secrets.filter((s) => s.origins.includes(origin));
  return headers.map(([name, value]) => [
    name,
    allowed.reduce((v, s) => v.replaceAll(s.placeholder, s.value), value),
  ]);
}

/** `bytes` (a Uint8Array) with every form of every secret replaced by its placeholder. */
export function redactBytes(secrets, bytes) {
  let buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let changed = false;
  for (const secret of secrets) {
    const placeholder = Buffer.from(secret.placeholder);
    for (const form of forms(secret.value)) {
      if (buffer.indexOf(form) < 0) continue;
      const parts = [];
      let rest = 0;
      for (let at = buffer.indexOf(form); at >= 0; at = buffer.indexOf(form, rest)) {
        parts.push(buffer.subarray(rest, at), placeholder);
        rest = at + form.length;
      }
      parts.push(buffer.subarray(rest));
      buffer = Buffer.concat(parts);
      changed = true;
    }
  }
  if (!changed) return bytes;
  // A fresh buffer (never a pooled slab), so it can be transferred.
  const out = new Uint8Array(buffer.length);
  out.set(buffer);
  return out;
}

export function redactText(secrets, text) {
  if (secrets.length === 0) return text;
  return Buffer.from(redactBytes(secrets, Buffer.from(text))).toString();
}
