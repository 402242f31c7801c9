// The HTTP side of the sync bridge (see bridge.mjs): runs on a worker thread
// whose event loop stays free while the main thread is blocked inside the
// component. Receives a batch on `port`, sends it with node:http/https under
// the network policy (at most `concurrency` requests at once), posts the
// results back and wakes the main thread through the shared `signal`.

import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { workerData } from 'node:worker_threads';

import { AddressDenied, admit, publicOnlyLookup, refusal } from './policy.mjs';
import { redactBytes, redactText, reveal } from './secrets.mjs';

const { port, signal: signalBuffer, origins, named: configNamed, secrets, limits, userAgent } = workerData;
const signal = new Int32Array(signalBuffer);

const agentOptions = { keepAlive: true, maxSockets: limits.concurrency };
const agents = { 'http:': new http.Agent(agentOptions), 'https:': new https.Agent(agentOptions) };
const clients = { 'http:': http, 'https:': https };

const METHODS = { get: 'GET', post: 'POST', put: 'PUT', patch: 'PATCH', delete: 'DELETE' };

const TLS_CODE =
  /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_OSSL_)|_CERT(IFICATE)?(_|$)/;
const CONNECTION_CODE = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL',
  'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'EADDRNOTAVAIL', 'UND_ERR_SOCKET',
]);

class Timeout extends Error {}
class TooLarge extends Error {}

/** A node error as a WIT `transport-error`. */
function transportError(error) {
  if (error instanceof AddressDenied) return { tag: 'denied', val: error.message };
  if (error instanceof Timeout || error?.code === 'ETIMEDOUT') return { tag: 'timeout' };
  if (error instanceof TooLarge) return { tag: 'too-large', val: BigInt(limits.maxResponseBytes) };
  const code = String(error?.code ?? '');
  const message = `${error?.message ?? error}${code && !String(error?.message).includes(code) ? ` (${code})` : ''}`;
  if (TLS_CODE.test(code)) return { tag: 'tls', val: message };
  if (CONNECTION_CODE.has(code) || code.startsWith('HPE_')) return { tag: 'connection', val: message };
  return { tag: 'other', val: message };
}

/**
 * One exchange with the config's secrets in its header values where its
 * origin may receive them, and scrubbed of them whatever comes back.
 */
async function send(request) {
  const result = await exchange(request);
  if (result.tag === 'ok') {
    const response = result.val;
    response.headers = response.headers.map(([n, v]) => [redactText(secrets, n), redactText(secrets, v)]);
    response.body = redactBytes(secrets, response.body);
  } else if (typeof result.val.val === 'string') {
    result.val.val = redactText(secrets, result.val.val);
  }
  return result;
}

/** Resolves to `{tag: 'ok', val: response}` or `{tag: 'err', val: transport-error}`. */
function exchange(request) {
  const admitted = admit(origins, request.url);
  if (admitted.denied) return Promise.resolve({ tag: 'err', val: { tag: 'denied', val: admitted.denied } });
  const { url } = admitted;
  const method = METHODS[request.method];
  if (!method) return Promise.resolve({ tag: 'err', val: { tag: 'denied', val: `invalid request: method ${request.method}` } });
  // Only origins the config names may reach addresses outside the public
  // internet: literals are judged here (node looks nothing up for them),
  // names after resolution, on every address.
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let lookup;
  if (!configNamed.includes(url.origin)) {
    const denied = isIP(hostname) ? refusal(hostname, [hostname]) : null;
    if (denied) return Promise.resolve({ tag: 'err', val: transportError(denied) });
    lookup = publicOnlyLookup();
  }

  // Header pairs in the guest's order, duplicates kept (raw-headers form, in
  // which node adds no Host of its own). Host always names the URL's
  // authority, the origin the policy admitted.
  const headers = ['host', url.host];
  const named = new Set();
  for (const [name, value] of reveal(secrets, url.origin, request.headers)) {
    if (name.toLowerCase() === 'host') continue;
    headers.push(name, value);
    named.add(name.toLowerCase());
  }
  if (!named.has('user-agent')) headers.push('user-agent', userAgent);
  const body = request.body ? Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength) : null;
  if (body && !named.has('content-length') && !named.has('transfer-encoding')) {
    headers.push('content-length', String(body.length));
  }
  const timeoutMs = Math.min(request.timeoutMs, limits.maxRequestTimeoutMs);

  return new Promise((resolve) => {
    let settled = false;
    let req;
    const finish = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const fail = (error) => {
      finish({ tag: 'err', val: transportError(error) });
      req?.destroy();
    };
    // One deadline for the whole exchange: connect, send, receive.
    const timer = setTimeout(() => fail(new Timeout()), timeoutMs);
    try {
      req = clients[url.protocol].request({
        protocol: url.protocol,
        hostname,
        lookup,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method,
        headers,
        agent: agents[url.protocol],
      });
    } catch (e) {
      // Invalid header names or values: the host refuses to send them.
      finish({ tag: 'err', val: { tag: 'denied', val: `invalid request: ${e.message}` } });
      return;
    }
    req.on('error', fail);
    req.on('response', (res) => {
      const chunks = [];
      let size = 0;
      res.on('data', (chunk) => {
        size += chunk.length;
        if (size > limits.maxResponseBytes) {
          fail(new TooLarge());
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', fail);
      res.on('aborted', () => fail(Object.assign(new Error('response aborted'), { code: 'ECONNRESET' })));
      res.on('end', () => {
        if (!res.complete) {
          fail(Object.assign(new Error('connection closed before the response was complete'), { code: 'ECONNRESET' }));
          return;
        }
        // A fresh buffer (never a pooled slab), so it can be transferred.
        const body = new Uint8Array(size);
        let offset = 0;
        for (const chunk of chunks) {
          body.set(chunk, offset);
          offset += chunk.length;
        }
        const responseHeaders = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          responseHeaders.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
        }
        finish({ tag: 'ok', val: { status: res.statusCode, headers: responseHeaders, body } });
      });
    });
    req.end(body ?? undefined);
  });
}

/** Runs `requests` at most `limits.concurrency` at a time; results keep their order. */
async function sendAll(requests) {
  const results = new Array(requests.length);
  let next = 0;
  const lane = async () => {
    while (next < requests.length) {
      const index = next++;
      results[index] = await send(requests[index]);
    }
  };
  const lanes = Math.max(1, Math.min(limits.concurrency, requests.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  return results;
}

port.on('message', async ({ id, requests }) => {
  let reply;
  try {
    const results = await sendAll(requests);
    const transfer = results.filter((r) => r.tag === 'ok').map((r) => r.val.body.buffer);
    reply = () => port.postMessage({ id, results }, transfer);
  } catch (e) {
    // A bug here must not leave the main thread waiting forever.
    const failure = { tag: 'err', val: { tag: 'other', val: `js host: ${e?.stack ?? e}` } };
    reply = () => port.postMessage({ id, results: requests.map(() => failure) });
  }
  // The message is queued on the main thread's port before it is woken, so
  // receiveMessageOnPort finds it there.
  reply();
  Atomics.store(signal, 0, id);
  Atomics.notify(signal, 0);
});
