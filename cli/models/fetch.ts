/**
 * Checksum-verified model downloads (design.md contract 5).
 *
 * For each manifest entry: a file already in place is kept only if its sha256 matches. Otherwise
 * bytes stream into `<name>.partial` while being hashed, a broken connection resumes with a Range
 * request, failures back off and retry, and when a source gives up the next one (a mirror) takes
 * over. Only a file whose sha256 matches is renamed to its final name, so a partial or wrong file
 * never sits where ComfyUI looks.
 */
import { createHash, type Hash } from "node:crypto";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, type Dispatcher, interceptors, request } from "undici";
import { hashInto, sha256File } from "./hash";
import { type ModelEntry, partialPath, rebaseUrl, targetPath } from "./manifest";
import { backoffDelay, classifyResponse, finalNetworkError } from "./response";
import { afterFailure, startRetries } from "./retry";

export interface FetchOptions {
  dir: string;
  /** Replaces every source's scheme+host (mirrors, tests). */
  baseUrl?: string;
  /**
   * Failed attempts in a row per source, without meaningful progress (retry.ts), before the next
   * source; all attempts per source are capped at 10 × (retries + 1).
   */
  retries?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Idle limit for connecting, for response headers and between body chunks. */
  timeoutMs?: number;
  /** Files downloaded at the same time by fetchModels. */
  concurrency?: number;
  dispatcher?: Dispatcher;
  onEvent?: (event: FetchEvent) => void;
  signal?: AbortSignal;
}

export const FETCH_DEFAULTS = {
  retries: 5,
  backoffMs: 1_000,
  maxBackoffMs: 30_000,
  timeoutMs: 60_000,
  concurrency: 3,
} as const;

export type FetchEvent =
  | { type: "hashing"; name: string; done: number; total: number; what: "existing" | "partial" }
  | { type: "present"; name: string }
  | { type: "replacing"; name: string; actual: string }
  | { type: "download"; name: string; url: string; offset: number; total: number }
  | { type: "bytes"; name: string; done: number; total: number }
  | { type: "retry"; name: string; url: string; failure: number; delayMs: number; reason: string }
  | { type: "source-failed"; name: string; url: string; reason: string }
  /** Resumed bytes failed the hash: the `.partial` is gone and `url` is tried again from byte 0. */
  | { type: "discarded"; name: string; url: string; reason: string }
  | { type: "verified"; name: string; url: string }
  | { type: "failed"; name: string; message: string };

export interface FetchResult {
  name: string;
  path: string;
  status: "present" | "downloaded";
  /** The URL that delivered the verified bytes (downloaded only). */
  url?: string;
}

export interface SourceFailure {
  url: string;
  reason: string;
}

/** Every source failed; the message names the file, the expected sha256 and what each source did. */
export class ModelFetchError extends Error {
  override name = "ModelFetchError";
  constructor(
    readonly entry: ModelEntry,
    readonly failures: SourceFailure[],
  ) {
    super(
      `${entry.folder}/${entry.name}: not fetched (expected sha256 ${entry.sha256}, ${entry.size} bytes):\n` +
        failures.map((f) => `    ${f.url}: ${f.reason}`).join("\n"),
    );
  }
}

/** The source answered in a way that more attempts will not change. */
class SourceError extends Error {
  /** The bytes in `.partial` cannot be trusted (wrong hash, too long): delete before moving on. */
  readonly discardPartial: boolean;
  /**
   * The wrong hash covers bytes an earlier run or source left in `.partial` (a changed manifest, a
   * bad mirror), so this source may still be right: it gets one more try from byte 0.
   */
  readonly staleBytes: boolean;
  constructor(message: string, opts: { discardPartial?: boolean; staleBytes?: boolean } = {}) {
    super(message);
    this.discardPartial = opts.discardPartial ?? false;
    this.staleBytes = opts.staleBytes ?? false;
  }
}

/** Worth another attempt at the same source. */
class RetryableError extends Error {
  constructor(
    message: string,
    readonly startOver = false,
  ) {
    super(message);
  }
}

/** Where the `.partial` file stands: its length on disk and the sha256 state of exactly those bytes. */
interface PartialState {
  offset: number;
  hash: Hash;
  /** Its first bytes were already on disk when this source started (not all fetched from it). */
  resumed: boolean;
}

/** Each flush writes at least this much, so a 4-7 GB file is not a million tiny writes. */
const FLUSH_BYTES = 1024 * 1024;

type Settings = Required<Omit<FetchOptions, "baseUrl" | "onEvent" | "signal">> &
  Pick<FetchOptions, "baseUrl" | "signal"> & { emit: (e: FetchEvent) => void };

/** Hugging Face answers with a redirect to its CDN; Range headers survive the hop. */
export function createDispatcher(timeoutMs: number = FETCH_DEFAULTS.timeoutMs): Dispatcher {
  return new Agent({ connect: { timeout: timeoutMs } }).compose(
    interceptors.redirect({ maxRedirections: 5 }),
  );
}

function settings(opts: FetchOptions, dispatcher: Dispatcher): Settings {
  return {
    dir: opts.dir,
    baseUrl: opts.baseUrl,
    signal: opts.signal,
    retries: opts.retries ?? FETCH_DEFAULTS.retries,
    backoffMs: opts.backoffMs ?? FETCH_DEFAULTS.backoffMs,
    maxBackoffMs: opts.maxBackoffMs ?? FETCH_DEFAULTS.maxBackoffMs,
    timeoutMs: opts.timeoutMs ?? FETCH_DEFAULTS.timeoutMs,
    concurrency: opts.concurrency ?? FETCH_DEFAULTS.concurrency,
    dispatcher,
    emit: opts.onEvent ?? (() => {}),
  };
}

/** Fetches one model; resolves when a verified file is in place, rejects with ModelFetchError. */
export async function fetchModel(entry: ModelEntry, opts: FetchOptions): Promise<FetchResult> {
  const own = opts.dispatcher ? undefined : createDispatcher(opts.timeoutMs);
  try {
    return await fetchOne(entry, settings(opts, opts.dispatcher ?? (own as Dispatcher)));
  } finally {
    await own?.close();
  }
}

export type FetchOutcome =
  | { entry: ModelEntry; ok: true; result: FetchResult }
  | { entry: ModelEntry; ok: false; error: Error };

/** Fetches every entry, `concurrency` at a time; one file's failure never stops the others. */
export async function fetchModels(
  entries: readonly ModelEntry[],
  opts: FetchOptions,
): Promise<FetchOutcome[]> {
  const own = opts.dispatcher ? undefined : createDispatcher(opts.timeoutMs);
  const s = settings(opts, opts.dispatcher ?? (own as Dispatcher));
  const outcomes: FetchOutcome[] = new Array(entries.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < entries.length; i = next++) {
      const entry = entries[i] as ModelEntry;
      try {
        outcomes[i] = { entry, ok: true, result: await fetchOne(entry, s) };
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        s.emit({ type: "failed", name: entry.name, message: error.message });
        outcomes[i] = { entry, ok: false, error };
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, s.concurrency) }, worker));
  } finally {
    await own?.close();
  }
  return outcomes;
}

async function fetchOne(entry: ModelEntry, s: Settings): Promise<FetchResult> {
  const final = targetPath(s.dir, entry);
  const partial = partialPath(s.dir, entry);
  await mkdir(dirname(final), { recursive: true });

  if (await exists(final)) {
    const actual = await sha256File(final, (done) =>
      s.emit({ type: "hashing", name: entry.name, done, total: entry.size, what: "existing" }),
    );
    if (actual === entry.sha256) {
      s.emit({ type: "present", name: entry.name });
      return { name: entry.name, path: final, status: "present" };
    }
    // The final name only ever holds verified bytes; a wrong file there would be loaded by ComfyUI.
    s.emit({ type: "replacing", name: entry.name, actual });
    await rm(final, { force: true });
  }

  const failures: SourceFailure[] = [];
  for (const source of entry.sources) {
    const url = s.baseUrl ? rebaseUrl(source, s.baseUrl) : source;
    const failure = await fetchFromSource(url, entry, partial, s);
    if (!failure) {
      await rename(partial, final);
      s.emit({ type: "verified", name: entry.name, url });
      return { name: entry.name, path: final, status: "downloaded", url };
    }
    failures.push({ url, reason: failure });
    s.emit({ type: "source-failed", name: entry.name, url, reason: failure });
  }
  throw new ModelFetchError(entry, failures);
}

/**
 * Leaves a verified `.partial`, or says why this source failed. When the hash fails over bytes
 * that did not all come from this source, the `.partial` is discarded and the source gets one more
 * try from byte 0: the second try resumes nothing, so it cannot come back here.
 */
async function fetchFromSource(
  url: string,
  entry: ModelEntry,
  partial: string,
  s: Settings,
): Promise<string | undefined> {
  for (;;) {
    try {
      await downloadFrom(url, entry, partial, s);
      return undefined;
    } catch (err) {
      if (s.signal?.aborted) throw err;
      const reason = (err as Error).message;
      if (!(err instanceof SourceError && err.discardPartial)) return reason;
      await rm(partial, { force: true });
      if (!err.staleBytes) return reason;
      s.emit({ type: "discarded", name: entry.name, url, reason });
    }
  }
}

/** Leaves a complete `.partial` whose sha256 matches, or throws. */
async function downloadFrom(
  url: string,
  entry: ModelEntry,
  partial: string,
  s: Settings,
): Promise<void> {
  const state = await openPartial(partial, entry, s);
  let retries = startRetries(state.offset);
  for (;;) {
    if (state.offset === entry.size) {
      const actual = state.hash.digest("hex");
      if (actual !== entry.sha256) {
        throw new SourceError(`sha256 mismatch: expected ${entry.sha256}, actual ${actual}`, {
          discardPartial: true,
          staleBytes: state.resumed,
        });
      }
      await syncFile(partial);
      return;
    }
    s.emit({ type: "download", name: entry.name, url, offset: state.offset, total: entry.size });
    try {
      await attempt(url, entry, partial, state, s);
    } catch (err) {
      if (err instanceof SourceError || s.signal?.aborted) throw err;
      if (err instanceof RetryableError && err.startOver) resetState(state);
      // Retry only what a retry can fix; a refused connection goes to the next source at once.
      const final = finalNetworkError(errorCode(err), url);
      if (final) throw new SourceError(`${final} (not retried)`);
      const reason = describeError(err);
      // Only meaningful progress restarts the count, and all attempts are capped (retry.ts).
      const verdict = afterFailure(retries, state.offset, entry.size, s.retries);
      if (verdict.giveUp) throw new SourceError(`${verdict.reason}; last: ${reason}`);
      retries = verdict.state;
      const failure = retries.failures;
      const delayMs = backoffDelay(failure, s.backoffMs, s.maxBackoffMs);
      s.emit({ type: "retry", name: entry.name, url, failure, delayMs, reason });
      await sleep(delayMs, undefined, { signal: s.signal });
    }
  }
}

/** Picks up bytes a previous run left behind (hashing them), unless they cannot be ours. */
async function openPartial(partial: string, entry: ModelEntry, s: Settings): Promise<PartialState> {
  const state: PartialState = { offset: 0, hash: createHash("sha256"), resumed: false };
  const length = (await stat(partial).catch(() => undefined))?.size ?? 0;
  if (length === 0 || length > entry.size) {
    await rm(partial, { force: true });
    return state;
  }
  await hashInto(partial, state.hash, length, (done) =>
    s.emit({ type: "hashing", name: entry.name, done, total: length, what: "partial" }),
  );
  state.offset = length;
  state.resumed = true;
  return state;
}

function resetState(state: PartialState): void {
  state.offset = 0;
  state.hash = createHash("sha256");
  state.resumed = false;
}

/** One HTTP request: appends to or restarts the `.partial` file, keeping `state` exact throughout. */
async function attempt(
  url: string,
  entry: ModelEntry,
  partial: string,
  state: PartialState,
  s: Settings,
): Promise<void> {
  const res = await request(url, {
    method: "GET",
    dispatcher: s.dispatcher,
    headers: state.offset > 0 ? { range: `bytes=${state.offset}-` } : {},
    headersTimeout: s.timeoutMs,
    bodyTimeout: s.timeoutMs,
    signal: s.signal,
  });
  const decision = classifyResponse({
    status: res.statusCode,
    offset: state.offset,
    size: entry.size,
    contentRange: header(res.headers["content-range"]),
    contentLength: header(res.headers["content-length"]),
  });
  if (decision.action === "retry" || decision.action === "next-source") {
    await res.body.dump().catch(() => {});
    if (decision.action === "next-source") throw new SourceError(decision.reason);
    throw new RetryableError(decision.reason, decision.startOver);
  }
  if (decision.action === "restart") resetState(state);
  await writeBody(res.body, partial, state, entry, s);
  // A body that ends cleanly but early (no Content-Length to hold the server to) is a failure too:
  // otherwise a server that always stops short would be asked again forever.
  if (state.offset < entry.size) {
    throw new RetryableError(`response ended at byte ${state.offset} of ${entry.size}`);
  }
}

/**
 * Streams the body to disk at `state.offset`. The hash and offset advance only after the bytes are
 * written, so after any failure (a cut connection, a full disk) the file prefix and the hash agree.
 */
async function writeBody(
  body: AsyncIterable<Buffer>,
  partial: string,
  state: PartialState,
  entry: ModelEntry,
  s: Settings,
): Promise<void> {
  const fh = await open(partial, state.offset === 0 ? "w" : "r+");
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const buffers = pending;
    const n = pendingBytes;
    pending = [];
    pendingBytes = 0;
    // Hash a copy while the write is in flight; it replaces the state only once the write is done.
    const written = fh.writev(buffers, state.offset);
    const hash = state.hash.copy();
    for (const b of buffers) hash.update(b);
    const { bytesWritten } = await written;
    if (bytesWritten !== n) throw new Error(`short write to ${partial}: ${bytesWritten} of ${n}`);
    state.hash = hash;
    state.offset += n;
    s.emit({ type: "bytes", name: entry.name, done: state.offset, total: entry.size });
  };
  try {
    for await (const chunk of body) {
      if (state.offset + pendingBytes + chunk.length > entry.size) {
        throw new SourceError(`server sent more than the manifest's ${entry.size} bytes`, {
          discardPartial: true,
        });
      }
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= FLUSH_BYTES) await flush();
    }
  } finally {
    try {
      await flush();
    } finally {
      await fh.close();
    }
  }
}

/** The rename must not publish bytes that are still only in the page cache. */
async function syncFile(path: string): Promise<void> {
  const fh = await open(path, "r+");
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Node's error code, on the error or on its cause (undici wraps some socket errors). */
function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === "string" ? code : undefined;
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: string }).code;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message;
  return [
    err.message,
    code && !err.message.includes(code) ? `(${code})` : "",
    detail ? `(${detail})` : "",
  ]
    .filter(Boolean)
    .join(" ");
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}
