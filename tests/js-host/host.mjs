#!/usr/bin/env node
// A second, independent host for the `connector:source/source-connector`
// world (wit/source.wit), on Node.js: the component is transpiled to an ES
// module with jco, its imports are implemented here, and its output is
// written as Singer JSON lines on stdout (logs on stderr), like the Rust host.
//
//   node host.mjs --component PATH.wasm --discover --config FILE
//   node host.mjs --component PATH.wasm --read --config FILE [--state FILE] [--catalog FILE]
//     [--allow-origin ORIGIN]...
//
// The grant: the origins the config names (every URL in it), narrowed by
// --allow-origin; a declared origin outside it ends the run before any request.
//
// Exit codes: 0 success, 1 a failed run (connector error, trap, commit
// failure), 2 bad input (arguments, files, config errors).

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { blockingSleep, SyncHttp } from './bridge.mjs';
import { configGrant, namedOrigins, policyFromDeclared } from './policy.mjs';
import { proposedBySpec, seal } from './secrets.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const USER_AGENT = 'intercom-connector-js-host/0.1.0';

/** The same limits as the Rust host's `Limits::default()`. */
const LIMITS = {
  memoryBytes: 512 * 1024 * 1024,
  concurrency: 8,
  maxRequestTimeoutMs: 300_000,
  maxResponseBytes: 64 * 1024 * 1024,
};

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];
const logThreshold = LEVELS.indexOf(process.env.JS_HOST_LOG ?? 'info');

class Failure extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

// ---------------------------------------------------------------- stdio

/** Writes all of `text` to `fd`, synchronously (retrying a non-blocking pipe). */
function writeAll(fd, text) {
  let buffer = Buffer.from(text);
  while (buffer.length > 0) {
    try {
      buffer = buffer.subarray(fs.writeSync(fd, buffer));
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      blockingSleep(1);
    }
  }
}

function log(level, message) {
  if (LEVELS.indexOf(level) < logThreshold) return;
  writeAll(2, `${new Date().toISOString()} ${level.toUpperCase().padStart(5)} ${message}\n`);
}

/** Singer lines for stdout, flushed at every STATE (a commit point). */
class SingerOut {
  #pending = [];
  #size = 0;

  line(text) {
    this.#pending.push(text, '\n');
    this.#size += text.length + 1;
    if (this.#size > 1 << 20) this.flush();
  }

  flush() {
    if (this.#pending.length === 0) return;
    const text = this.#pending.join('');
    this.#pending = [];
    this.#size = 0;
    writeAll(1, text);
  }
}

/** Guest JSON, which must be an object; returned as compact text. */
function jsonObject(what, text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not valid JSON: ${e.message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${what} is not a JSON object`);
  }
  // The guest's text is kept verbatim (number formatting, key order) unless
  // it would break a JSON line.
  return /[\n\r]/.test(text) ? JSON.stringify(value) : text.trim();
}

// ---------------------------------------------------------------- component

/**
 * Transpiles the component with jco into out/<content hash>/ (once per
 * build) and returns its `instantiate`.
 */
async function load(componentPath, outRoot) {
  const bytes = fs.readFileSync(componentPath);
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const dir = path.join(outRoot, hash);
  if (!fs.existsSync(path.join(dir, 'connector.js'))) {
    const { transpileBytes } = await import('@bytecodealliance/jco-transpile');
    const { files } = await transpileBytes(bytes, {
      name: 'connector',
      // Imports are supplied at instantiation, not resolved by module path.
      instantiation: 'async',
      // No import is mapped to preview2-shim implicitly: every import the
      // component gets is listed in `imports()` below.
      wasiShim: false,
      emitTypescriptDeclarations: false,
      outDir: '',
    });
    const tmp = `${dir}.tmp-${process.pid}`;
    for (const [name, content] of Object.entries(files)) {
      const file = path.join(tmp, name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content);
    }
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      // Another run transpiled the same component meanwhile.
      fs.rmSync(tmp, { recursive: true, force: true });
      if (!fs.existsSync(path.join(dir, 'connector.js'))) throw e;
    }
  }
  const { instantiate } = await import(pathToFileURL(path.join(dir, 'connector.js')).href);
  const modules = new Map();
  const getCoreModule = (name) => {
    if (!modules.has(name)) {
      modules.set(name, WebAssembly.compile(fs.readFileSync(path.join(dir, name))));
    }
    return modules.get(name);
  };
  // Core instances pass through here so the host can watch their memories.
  return (imports, onCoreInstance) =>
    instantiate(getCoreModule, imports, async (module, coreImports) => {
      const instance = await WebAssembly.instantiate(module, coreImports);
      onCoreInstance(instance);
      return instance;
    });
}

/**
 * WASI with nothing granted, as the Rust host's empty `WasiCtx`: no
 * environment, arguments or cwd; stdin at end of stream; no terminals; exit
 * traps instead of ending the host. The component imports no filesystem,
 * sockets, clocks or http, and gets none: an import missing here makes
 * instantiation fail rather than fall back to a shim. Guest stdout and stderr
 * (panic messages) go to the host's stderr, never into the Singer stream.
 */
async function wasiImports() {
  const shim = await import('@bytecodealliance/preview2-shim');
  const { cli, clocks, io, random } = shim;
  // Standard-library components import these too; they get no directories
  // and a network that refuses every lookup and socket.
  const filesystem = shim.filesystem.createFilesystem({ preopens: {} });
  const sockets = shim.sockets.createSockets({ enableNetwork: false });
  const { InputStream } = io.streams;
  const { Pollable } = io.poll;
  class ReadyPollable extends Pollable {
    ready() {
      return true;
    }
    block() {}
  }
  class EmptyInput extends InputStream {
    read() {
      throw { tag: 'closed' };
    }
    blockingRead() {
      throw { tag: 'closed' };
    }
    skip() {
      throw { tag: 'closed' };
    }
    blockingSkip() {
      throw { tag: 'closed' };
    }
    subscribe() {
      return new ReadyPollable();
    }
  }
  const stdin = new EmptyInput();
  const guestOutput = cli.stderr.getStderr();
  return {
    'wasi:cli/environment': {
      getEnvironment: () => [],
      getArguments: () => [],
      initialCwd: () => undefined,
    },
    'wasi:cli/exit': {
      exit: (status) => {
        throw new Error(`the component called wasi:cli/exit (${status.tag})`);
      },
    },
    'wasi:cli/stdin': { getStdin: () => stdin },
    'wasi:cli/stdout': { getStdout: () => guestOutput },
    'wasi:cli/stderr': { getStderr: () => guestOutput },
    'wasi:cli/terminal-input': cli.terminalInput,
    'wasi:cli/terminal-output': cli.terminalOutput,
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => undefined },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => undefined },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => undefined },
    'wasi:clocks/monotonic-clock': clocks.monotonicClock,
    'wasi:clocks/wall-clock': clocks.wallClock,
    'wasi:filesystem/preopens': filesystem.preopens,
    'wasi:filesystem/types': filesystem.types,
    'wasi:sockets/instance-network': sockets.instanceNetwork,
    'wasi:sockets/network': sockets.network,
    'wasi:sockets/ip-name-lookup': sockets.ipNameLookup,
    'wasi:sockets/tcp': sockets.tcp,
    'wasi:sockets/tcp-create-socket': sockets.tcpCreateSocket,
    'wasi:sockets/udp': sockets.udp,
    'wasi:sockets/udp-create-socket': sockets.udpCreateSocket,
    'wasi:io/error': io.error,
    'wasi:io/poll': io.poll,
    'wasi:io/streams': io.streams,
    'wasi:random/insecure-seed': random.insecureSeed,
  };
}

/** Host state of one instance: one export call, as in the Rust host. */
class Instance {
  constructor({ origins, named = [], secrets = [], out }) {
    this.origins = origins;
    this.named = named;
    this.secrets = secrets;
    this.out = out;
    this.declared = new Set();
    this.records = new Map();
    /** Stream → table version of its pass under way (a BigInt: a WIT u64). */
    this.versions = new Map();
    this.waits = { 'rate-limit': 0, retry: 0, busy: 0, count: 0 };
    this.commitFailure = null;
    this.http = null;
    this.memories = [];
  }

  /**
   * V8 cannot cap a memory the module defines itself, so the cap is checked
   * at every import call instead: growth past it traps at the next call.
   */
  watch(instance) {
    for (const value of Object.values(instance.exports)) {
      if (value instanceof WebAssembly.Memory) this.memories.push(value);
    }
  }

  #activate(stream, version) {
    this.out.line(`{"type":"ACTIVATE_VERSION","stream":${JSON.stringify(stream)},"version":${version}}`);
  }

  #checkMemory() {
    for (const memory of this.memories) {
      if (memory.buffer.byteLength > LIMITS.memoryBytes) {
        throw new Error(`the component's memory exceeds ${LIMITS.memoryBytes} bytes`);
      }
    }
  }

  #http() {
    this.http ??= new SyncHttp(this.origins, this.named, this.secrets, LIMITS, USER_AGENT);
    return this.http;
  }

  imports(wasi) {
    const withVersions = {};
    const own = {
      'connector:source/types': {},
      'connector:source/http': {
        send: (request) => this.#http().call([request])[0],
        sendBatch: (requests) => {
          log('trace', `send-batch of ${requests.length} requests`);
          return requests.length === 0 ? [] : this.#http().call(requests);
        },
      },
      'connector:source/clock': {
        nowMs: () => BigInt(Date.now()),
        sleep: (ms, reason) => {
          log('debug', `waiting ${ms} ms (${reason})`);
          blockingSleep(ms);
          this.waits[reason] += ms;
          this.waits.count += 1;
        },
      },
      'connector:source/state': {
        checkpoint: (document) => {
          // Not JSON is a broken contract: trap, as the Rust host does.
          const text = jsonObject('checkpointed state', document);
          try {
            // Records emitted so far reach stdout no later than the state.
            this.out.line(`{"type":"STATE","value":${text}}`);
            this.out.flush();
          } catch (e) {
            this.commitFailure = e;
            return { tag: 'err', val: `could not write the state: ${e.message}` };
          }
          return { tag: 'ok', val: undefined };
        },
      },
      'connector:source/output': {
        schema: (stream, schema, keyProperties, bookmarkProperties) => {
          const text = jsonObject(`schema of stream \`${stream}\``, schema);
          this.out.line(
            `{"type":"SCHEMA","stream":${JSON.stringify(stream)},"schema":${text},` +
              `"key_properties":${JSON.stringify(keyProperties)},` +
              `"bookmark_properties":${JSON.stringify(bookmarkProperties)}}`,
          );
          this.declared.add(stream);
        },
        records: (stream, records) => {
          if (!this.declared.has(stream)) {
            throw new Error(`component emitted records for undeclared stream \`${stream}\``);
          }
          const name = JSON.stringify(stream);
          const extracted = `"${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}"`;
          const version = this.versions.has(stream) ? `,"version":${this.versions.get(stream)}` : '';
          for (const record of records) {
            const text = jsonObject(`a record of stream \`${stream}\``, record);
            this.out.line(`{"type":"RECORD","stream":${name},"record":${text}${version},"time_extracted":${extracted}}`);
          }
          this.records.set(stream, (this.records.get(stream) ?? 0) + records.length);
        },
        // A complete pass: its records carry the table version, activated
        // at completion (and before the records on a first load).
        streamVersion: (stream, version, firstLoad) => {
          if (!this.declared.has(stream)) {
            throw new Error(`component versioned undeclared stream \`${stream}\``);
          }
          this.versions.set(stream, version);
          if (firstLoad) this.#activate(stream, version);
        },
        streamComplete: (stream, wholeTable) => {
          if (!this.declared.has(stream)) {
            throw new Error(`component completed undeclared stream \`${stream}\``);
          }
          const version = this.versions.get(stream);
          this.versions.delete(stream);
          if (wholeTable && version !== undefined) this.#activate(stream, version);
        },
        // This host keeps no copy of the streams: nothing to confirm.
        absentKeys: (stream) => {
          if (!this.declared.has(stream)) {
            throw new Error(`component asked for absent keys of undeclared stream \`${stream}\``);
          }
          return [];
        },
        // A display's business; this host shows none.
        streamProgress: (stream) => {
          if (!this.declared.has(stream)) {
            throw new Error(`component reported progress of undeclared stream \`${stream}\``);
          }
        },
        // The component's own warning already says why.
        streamSkipped: (stream) => log('debug', `${stream} skipped`),
        log: (level, message) => log(level, `connector: ${message}`),
      },
    };
    for (const functions of Object.values(own)) {
      for (const [name, fn] of Object.entries(functions)) {
        functions[name] = (...args) => {
          this.#checkMemory();
          return fn(...args);
        };
      }
    }
    for (const [name, value] of Object.entries({ ...own, ...wasi })) {
      const version = name.startsWith('wasi:') ? '0.2.6' : '0.3.0';
      withVersions[name] = value;
      withVersions[`${name}@${version}`] = value;
    }
    return withVersions;
  }

  async close() {
    await this.http?.close();
  }
}

/**
 * Calls `fn(exports)` in a fresh instance. A connector error (the export's
 * `err`) comes back as `{error}`; a trap or host failure throws.
 */
async function call(instantiate, wasi, host, fn) {
  const root = await instantiate(host.imports(wasi), (instance) => host.watch(instance));
  try {
    return { value: fn(root.source) };
  } catch (e) {
    // jco throws an export's `err` payload (or, with error wrapping on, a
    // ComponentError carrying it as `payload`); anything else is a trap.
    const payload = e instanceof Error ? e.payload : e;
    if (typeof payload?.category === 'string') return { error: payload };
    throw new Failure(`component failed: ${e?.message ?? e}`, 1);
  } finally {
    await host.close();
  }
}

// ---------------------------------------------------------------- main

function readInput(flag, file, json) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Failure(`${flag} ${file}: cannot read: ${e.message}`, 2);
  }
  if (json) {
    try {
      JSON.parse(text);
    } catch (e) {
      throw new Failure(`${flag} ${file}: not valid JSON: ${e.message}`, 2);
    }
  }
  return text;
}

/**
 * The Intercom API origin a config names, as the Rust CLI reads it
 * (`api_origin_named`): its `base_url`'s, else its region's; null if none.
 */
function apiOriginNamed(document) {
  const present = (field) => document?.[field] ?? null;
  if (present('base_url') !== null) {
    try {
      const url = new URL(document.base_url);
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : null;
    } catch {
      return null;
    }
  }
  const region = present('region') ?? 'us';
  if (typeof region !== 'string') return null;
  const host = { us: 'api.intercom.io', eu: 'api.eu.intercom.io', au: 'api.au.intercom.io' }[region.toLowerCase()];
  return host ? `https://${host}` : null;
}

/** Config errors name the file they came from and exit 2; others exit 1. */
function connectorFailure(error, file) {
  if (error.category === 'config') return new Failure(`${file}: ${error.message}`, 2);
  return new Failure(`${error.category} error: ${error.message}`, 1);
}

async function main() {
  let args;
  try {
    ({ values: args } = parseArgs({
      options: {
        component: { type: 'string' },
        config: { type: 'string' },
        state: { type: 'string' },
        catalog: { type: 'string' },
        discover: { type: 'boolean' },
        read: { type: 'boolean' },
        'out-dir': { type: 'string' },
        'allow-origin': { type: 'string', multiple: true },
      },
      strict: true,
    }));
  } catch (e) {
    throw new Failure(e.message, 2);
  }
  if (!args.component) throw new Failure('--component PATH is required', 2);
  if (!args.config) throw new Failure('--config FILE is required', 2);
  if (!!args.discover === !!args.read) throw new Failure('give exactly one of --discover, --read', 2);
  const configText = readInput('--config', args.config, true);
  const instantiate = await load(args.component, args['out-dir'] ?? path.join(HERE, 'out')).catch((e) => {
    throw new Failure(`cannot load component ${args.component}: ${e.message}`, 2);
  });
  const wasi = await wasiImports();
  const out = new SingerOut();
  const logOnly = () => new Instance({ origins: [], out: { line() {}, flush() {} } });

  // Exports see the config sealed: `access_token` and whatever the spec
  // marks writeOnly, each sent only to the API origin the config names.
  const spec = await call(instantiate, wasi, logOnly(), (c) => c.spec());
  const apiOrigin = apiOriginNamed(JSON.parse(configText));
  const fields = [...new Set(['access_token', ...proposedBySpec(spec.value)])].map((name) => ({
    name,
    origins: apiOrigin ? [apiOrigin] : [],
  }));
  let config;
  let secrets;
  try {
    ({ sealed: config, secrets } = seal(configText, fields));
  } catch (e) {
    throw new Failure(`--config ${args.config}: ${e.message}`, 2);
  }

  const declared = await call(instantiate, wasi, logOnly(), (c) => c.allowedOrigins(config));
  if (declared.error) throw connectorFailure(declared.error, args.config);
  let origins;
  try {
    origins = policyFromDeclared(declared.value, config, configGrant(config, args['allow-origin']));
  } catch (e) {
    throw new Failure(e.message, 1);
  }
  log('info', `admitted origins: ${origins.join(', ')}`);
  if (args.discover) {
    // Discovery reads the data attributes, as in the Rust host.
    const host = new Instance({ origins, named: namedOrigins(origins, config), secrets, out });
    const { value, error } = await call(instantiate, wasi, host, (c) => c.discover(config));
    if (error) throw connectorFailure(error, args.config);
    writeAll(1, `${value}\n`);
    return;
  }
  const catalog = args.catalog ? readInput('--catalog', args.catalog, true) : undefined;
  const state = args.state ? readInput('--state', args.state, true) : undefined;

  const started = Date.now();
  const host = new Instance({ origins, named: namedOrigins(origins, config), secrets, out });
  let result;
  try {
    result = await call(instantiate, wasi, host, (c) => c.read(config, catalog, state));
  } finally {
    out.flush();
  }
  if (host.commitFailure) {
    throw new Failure(`could not commit a checkpoint: ${host.commitFailure.message}`, 1);
  }
  if (result.error) {
    // The error names the document at fault (an option<document>).
    const file = { catalog: args.catalog, state: args.state }[result.error.document] ?? args.config;
    throw connectorFailure(result.error, file);
  }
  const counts = [...host.records].map(([s, n]) => `${s}: ${n}`).join(', ');
  const total = [...host.records.values()].reduce((a, b) => a + b, 0);
  const { waits } = host;
  log(
    'info',
    `sync finished: ${total} records (${counts}) in ${((Date.now() - started) / 1000).toFixed(1)}s` +
      (waits.count ? `; waited ${waits.count}x (rate-limit ${waits['rate-limit']} ms, retry ${waits.retry} ms, busy ${waits.busy} ms)` : ''),
  );
}

main().then(
  () => process.exit(0),
  (e) => {
    if (!(e instanceof Failure)) e = new Failure(`js host: ${e?.stack ?? e}`, 1);
    writeAll(2, `error: ${e.message}\n`);
    process.exit(e.code);
  },
);
