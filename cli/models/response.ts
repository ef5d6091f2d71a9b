/**
 * Pure decisions about one HTTP answer to a (possibly ranged) model download, and about waiting
 * between attempts. Kept free of I/O so every branch is tested directly.
 */

/** `Content-Range: bytes START-END/TOTAL` (TOTAL may be `*`). */
export interface ContentRange {
  start: number;
  end: number;
  total: number | undefined;
}

export function parseContentRange(header: string | undefined): ContentRange | undefined {
  const m = header?.trim().match(/^bytes (\d+)-(\d+)\/(\d+|\*)$/);
  if (!m) return undefined;
  const [, start, end, total] = m;
  return {
    start: Number(start),
    end: Number(end),
    total: total === "*" ? undefined : Number(total),
  };
}

export interface ResponseFacts {
  status: number;
  /** Bytes already on disk (and hashed) when the request was made; a Range was sent if > 0. */
  offset: number;
  /** The manifest's exact size. */
  size: number;
  contentRange?: string | undefined;
  contentLength?: string | undefined;
}

export type Decision =
  /** 206 for exactly the bytes we asked for: append at offset. */
  | { action: "append" }
  /** The whole file from byte 0 (a 200, also when a Range was ignored): truncate and write. */
  | { action: "restart" }
  /** Worth asking this source again after a pause (5xx, 429, 408, a bad 206, a 416 mid-file). */
  | { action: "retry"; reason: string; startOver?: boolean }
  /** This source will not serve the file (404, 403, a size that contradicts the manifest). */
  | { action: "next-source"; reason: string };

/** A server that answers a Range with 200 is obeyed, not trusted: we start over cleanly. */
export function classifyResponse(f: ResponseFacts): Decision {
  const { status, offset, size } = f;
  if (status === 206) {
    const range = parseContentRange(f.contentRange);
    if (!range || range.start !== offset) {
      return {
        action: "retry",
        reason: `206 with Content-Range '${f.contentRange ?? ""}' does not start at byte ${offset}`,
      };
    }
    if (range.total !== undefined && range.total !== size) {
      return {
        action: "next-source",
        reason: `server says the file has ${range.total} bytes, the manifest says ${size}`,
      };
    }
    return { action: "append" };
  }
  if (status === 200) {
    const length = f.contentLength === undefined ? undefined : Number(f.contentLength);
    if (length !== undefined && Number.isFinite(length) && length !== size) {
      return {
        action: "next-source",
        reason: `server says the file has ${length} bytes, the manifest says ${size}`,
      };
    }
    return { action: "restart" };
  }
  if (status === 416) {
    // We never ask for a range at or past the end, so the partial file no longer fits this source.
    return { action: "retry", reason: `HTTP 416 for bytes ${offset}-`, startOver: true };
  }
  if (status === 408 || status === 429 || status >= 500) {
    return { action: "retry", reason: `HTTP ${status}` };
  }
  return { action: "next-source", reason: `HTTP ${status}` };
}

/**
 * Exponential backoff for the n-th consecutive failure (1-based), capped, with up to 20% jitter
 * taken from `random` so that several concurrent downloads do not retry in lockstep.
 */
export function backoffDelay(
  failure: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, failure - 1));
  return Math.round(exp * (1 - 0.2 * random()));
}

const TLS_CERT_ERRORS = new Set([
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/**
 * A network error that asking the same source again cannot fix, said plainly; undefined when a
 * retry may help (a reset, a timeout, a DNS hiccup). A refused connection means nothing listens at
 * that address: retrying it with backoff took about a minute before the next source was tried.
 */
export function finalNetworkError(code: string | undefined, url: string): string | undefined {
  const host = URL.canParse(url) ? new URL(url).host : url;
  if (code === "ECONNREFUSED") return `connection refused by ${host}: nothing listens there`;
  if (code === "ENOTFOUND") return `unknown host ${host}: DNS has no address for it`;
  if (code !== undefined && TLS_CERT_ERRORS.has(code)) {
    return `TLS certificate of ${host} rejected (${code})`;
  }
  if (code === "EPROTO" || code === "ERR_SSL_WRONG_VERSION_NUMBER") {
    return `TLS handshake with ${host} failed (${code}): is it a plain http:// server?`;
  }
  return undefined;
}
