/**
 * A real HTTP file server on 127.0.0.1 for model-download tests and benchmarks. It honours Range
 * (206 + Content-Range) like Hugging Face's CDN, and each route can misbehave on purpose: cut the
 * connection mid-body, ignore Range, answer an error status, redirect, or hold responses until
 * several requests are in flight (to prove concurrency). Every request is logged.
 */
import { createCipheriv, createHash } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** File contents that can be read at any offset without holding the whole file in memory. */
export interface Content {
  size: number;
  read(start: number, end: number): Buffer;
}

export function bufferContent(buf: Buffer): Content {
  return { size: buf.length, read: (start, end) => buf.subarray(start, end) };
}

const BLOCK = 1024 * 1024;

/**
 * `size` pseudo-random bytes from AES-128-CTR keyed by `seed`: incompressible like model weights,
 * identical on every read, and seekable (block i is the keystream at counter i·BLOCK/16).
 */
export function generatedContent(size: number, seed = "wan-vace"): Content {
  const key = createHash("sha256").update(seed).digest().subarray(0, 16);
  const zeros = Buffer.alloc(BLOCK);
  // Sequential reads come in smaller pieces than a block: keep the last block.
  let cached: { i: number; data: Buffer } | undefined;
  const block = (i: number): Buffer => {
    if (cached?.i !== i) {
      const iv = Buffer.alloc(16);
      iv.writeBigUInt64BE(BigInt((i * BLOCK) / 16), 8);
      cached = { i, data: createCipheriv("aes-128-ctr", key, iv).update(zeros) };
    }
    return cached.data;
  };
  return {
    size,
    read(start, end) {
      const parts: Buffer[] = [];
      for (let pos = start; pos < end; ) {
        const i = Math.floor(pos / BLOCK);
        const from = pos - i * BLOCK;
        const to = Math.min(BLOCK, end - i * BLOCK);
        parts.push(block(i).subarray(from, to));
        pos = i * BLOCK + to;
      }
      return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    },
  };
}

export function sha256Of(content: Content): string {
  const h = createHash("sha256");
  for (let pos = 0; pos < content.size; pos += BLOCK) {
    h.update(content.read(pos, Math.min(content.size, pos + BLOCK)));
  }
  return h.digest("hex");
}

export interface Route {
  content?: Content;
  /** Answer this status (no body) instead of the file. */
  status?: number;
  /** Answer 503 to the first N requests. */
  failFirst?: number;
  /** For the first request only: send this many body bytes, then destroy the socket. */
  cutAfter?: number;
  /**
   * Every response: no Content-Length (chunked), and a clean end after this many body bytes. Unlike
   * a cut, the client receives every byte sent however loaded the machine is (when a cut's last
   * bytes and the close arrive in one read, the HTTP client drops those bytes with the error), so
   * tests can count progress per attempt exactly.
   */
  endEvery?: number;
  /** Every response: no Content-Length (chunked), and a clean end at this byte of the file. */
  endAt?: number;
  /** Always send the whole file with 200, whatever Range says. */
  ignoreRange?: boolean;
  /** 302 to this path. */
  redirectTo?: string;
}

export interface RequestRecord {
  path: string;
  range: string | undefined;
  status: number;
}

export interface ModelServer {
  url: string;
  requests: RequestRecord[];
  /** Highest number of requests in flight at once. */
  maxInFlight: number;
  close(): Promise<void>;
}

export interface ModelServerOptions {
  /** Hold every file response until this many are in flight (or `holdMs` passes). */
  holdUntilInFlight?: number;
  holdMs?: number;
}

export async function startModelServer(
  routes: Record<string, Route>,
  opts: ModelServerOptions = {},
): Promise<ModelServer> {
  const hits = new Map<string, number>();
  const requests: RequestRecord[] = [];
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let released = false;
  const waiters: (() => void)[] = [];
  const state = { maxInFlight: 0 };

  const hold = async () => {
    if (!opts.holdUntilInFlight || released) return;
    if (inFlight >= opts.holdUntilInFlight) {
      released = true;
      for (const w of waiters.splice(0)) w();
      return;
    }
    await new Promise<void>((resolve) => {
      waiters.push(resolve);
      setTimeout(resolve, opts.holdMs ?? 2_000).unref();
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    const route = routes[path];
    const range = req.headers.range;
    const record = (status: number) => requests.push({ path, range, status });

    const answer = (status: number, headers: Record<string, string> = {}) => {
      record(status);
      res.writeHead(status, headers).end();
    };
    if (!route) return answer(404);
    if (route.redirectTo) return answer(302, { location: route.redirectTo });
    if (route.status) return answer(route.status);
    if (route.failFirst && n <= route.failFirst) return answer(503);
    const content = route.content;
    if (!content) return answer(500);

    await hold();
    const chunked = route.endAt !== undefined || route.endEvery !== undefined;
    let start = 0;
    const m = !route.ignoreRange && range ? range.match(/^bytes=(\d+)-$/) : null;
    if (m) {
      start = Number(m[1]);
      if (start >= content.size) return answer(416, { "content-range": `bytes */${content.size}` });
      record(206);
      res.writeHead(206, {
        ...(chunked ? {} : { "content-length": content.size - start }),
        "content-range": `bytes ${start}-${content.size - 1}/${content.size}`,
        "accept-ranges": "bytes",
      });
    } else {
      record(200);
      res.writeHead(200, {
        ...(chunked ? {} : { "content-length": content.size }),
        "accept-ranges": "bytes",
      });
    }
    const cut = n === 1 ? route.cutAfter : undefined;
    const end = route.endEvery !== undefined ? start + route.endEvery : route.endAt;
    const stopAt =
      cut !== undefined
        ? Math.min(content.size, start + cut)
        : Math.min(content.size, end ?? content.size);
    for (let pos = start; pos < stopAt; ) {
      const end = Math.min(stopAt, pos + 256 * 1024);
      if (!res.write(content.read(pos, end))) await once(res, "drain");
      pos = end;
    }
    if (stopAt < content.size && end === undefined) {
      // Let the bytes already written leave, then drop the connection mid-body.
      await new Promise((r) => setTimeout(r, 20));
      return void req.socket.destroy();
    }
    res.end();
  };

  const server: Server = createServer((req, res) => {
    inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    res.on("close", () => inFlight--);
    handle(req, res).catch(() => req.socket.destroy());
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get maxInFlight() {
      return state.maxInFlight;
    },
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

/** A loopback port with nothing listening on it (connections are refused). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = s.address() as AddressInfo;
  s.close();
  await once(s, "close");
  return port;
}
