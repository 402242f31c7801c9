// The sync bridge: the component calls `http.send` and `http.send-batch` as
// ordinary synchronous functions, while Node's network stack is asynchronous.
//
// The main thread runs the component. For each call it posts the requests to
// a worker thread (http-worker.mjs) over a MessagePort and blocks in
// `Atomics.wait` on a SharedArrayBuffer cell. The worker, whose event loop is
// not blocked, performs the requests concurrently, posts the results to the
// port and then stores the call's id in the cell and `Atomics.notify`s. The
// main thread wakes, takes the reply synchronously with
// `receiveMessageOnPort` (no event-loop turn needed) and returns it to the
// component. Bodies travel as transferred ArrayBuffers, not copies.
//
// `sleep` blocks the same way, on a cell no one notifies.

import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';

export class SyncHttp {
  #worker;
  #port;
  #signal;
  #limits;
  #nextId = 0;

  /**
   * @param {string[]} origins the allow-list (policy.mjs)
   * @param {string[]} named those of `origins` the config names (`namedOrigins`)
   * @param {{value: string, placeholder: string, origins: string[]}[]} secrets the config's (secrets.mjs)
   * @param {{concurrency: number, maxRequestTimeoutMs: number, maxResponseBytes: number}} limits
   */
  constructor(origins, named, secrets, limits, userAgent) {
    this.#limits = limits;
    this.#signal = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    this.#worker = new Worker(new URL('./http-worker.mjs', import.meta.url), {
      workerData: { port: port2, signal: this.#signal.buffer, origins, named, secrets, limits, userAgent },
      transferList: [port2],
      // The worker inherits nothing it does not need.
      env: {},
      argv: [],
      execArgv: [],
      stdin: false,
    });
    // Neither keeps the process alive once the component is done.
    this.#worker.unref();
    this.#port.unref();
  }

  /** Results of `requests`, in their order; blocks the calling thread. */
  call(requests) {
    const id = (this.#nextId = (this.#nextId % 0x7fffffff) + 1);
    Atomics.store(this.#signal, 0, 0);
    this.#port.postMessage({ id, requests });
    // Each wave of `concurrency` requests may take up to the timeout cap.
    const waves = Math.ceil(Math.max(1, requests.length) / this.#limits.concurrency);
    const deadline = Date.now() + waves * this.#limits.maxRequestTimeoutMs + 30_000;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('js host: the HTTP worker did not answer in time');
      Atomics.wait(this.#signal, 0, 0, Math.min(left, 1000));
      const reply = receiveMessageOnPort(this.#port);
      if (reply) {
        if (reply.message.id !== id) throw new Error('js host: HTTP worker answered out of turn');
        return reply.message.results;
      }
    }
  }

  /** Lets the process exit without waiting for idle keep-alive sockets. */
  async close() {
    await this.#worker.terminate();
    this.#port.close();
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the calling thread for `ms` milliseconds. */
export function blockingSleep(ms) {
  const until = Date.now() + ms;
  for (let left = ms; left > 0; left = until - Date.now()) {
    Atomics.wait(sleepCell, 0, 0, left);
  }
}
