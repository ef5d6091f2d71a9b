/**
 * The smoke's only door to the server: undici requests that always carry the token, with network
 * failures and token rejections turned into SmokeErrors that say what to do next.
 */
import { Agent, type Dispatcher, type FormData, request } from "undici";
import { type Phase, SmokeError } from "./errors";

export interface HttpOptions {
  /** Base URL of the gateway (or of ComfyUI itself), e.g. `https://1.2.3.4` or `http://127.0.0.1:8188`. */
  url: string;
  token: string;
  /** PEM certificate(s) to trust instead of the system CAs: the gateway's pinned certificate. */
  ca?: string;
}

export interface SendOptions {
  phase: Phase;
  method?: Dispatcher.HttpMethod;
  query?: Record<string, string>;
  json?: unknown;
  form?: FormData;
  signal?: AbortSignal;
  /** Statuses the caller interprets itself instead of the default 401/403 → "token rejected". */
  ownStatuses?: number[];
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData["body"];
}

/**
 * Error codes of a TLS handshake or certificate check. They do not go away by waiting, so the smoke
 * reports them at once instead of retrying them as "not up yet".
 */
const TLS_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_SSL_WRONG_VERSION_NUMBER",
]);

export class ComfyHttp {
  readonly base: URL;
  readonly dispatcher: Agent;
  readonly #token: string;
  readonly #pinned: boolean;

  constructor(opts: HttpOptions) {
    const base = new URL(opts.url);
    if (base.protocol !== "http:" && base.protocol !== "https:") {
      throw new Error(`--url must be http:// or https://, got ${base.protocol}//`);
    }
    // A trailing slash makes relative paths resolve under a path prefix (a gateway may mount ComfyUI below /).
    if (!base.pathname.endsWith("/")) base.pathname += "/";
    base.search = "";
    base.hash = "";
    this.base = base;
    this.#token = opts.token;
    this.#pinned = opts.ca !== undefined;
    this.dispatcher = new Agent({
      connect: opts.ca ? { ca: opts.ca } : {},
      // ComfyUI keeps no state per connection; short keep-alive avoids a stale socket after a gateway restart.
      keepAliveTimeout: 4_000,
    });
  }

  /** The Authorization header every request carries (design.md contract 6 accepts Bearer everywhere). */
  authHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.#token}` };
  }

  /** The WebSocket URL: `?token=` as well as the header, since browsers cannot set WS headers. */
  socketUrl(clientId: string): URL {
    const u = new URL("ws", this.base);
    u.protocol = this.base.protocol === "https:" ? "wss:" : "ws:";
    u.searchParams.set("clientId", clientId);
    u.searchParams.set("token", this.#token);
    return u;
  }

  /** The base URL as safe to print or store: no credentials, no query. */
  displayUrl(): string {
    const u = new URL(this.base);
    u.username = "";
    u.password = "";
    return u.toString();
  }

  async send(path: string, opts: SendOptions): Promise<Response> {
    const url = new URL(path, this.base);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const method = opts.method ?? "GET";
    const headers: Record<string, string> = { ...this.authHeaders() };
    let body: string | FormData | undefined;
    if (opts.json !== undefined) {
      headers["content-type"] = "application/json; charset=utf-8";
      body = JSON.stringify(opts.json);
    } else if (opts.form) {
      body = opts.form;
    }
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method,
        headers,
        body,
        signal: opts.signal,
        dispatcher: this.dispatcher,
      });
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw this.networkError(err, opts.phase, `${method} /${path}`);
    }
    if (
      (res.statusCode === 401 || res.statusCode === 403) &&
      !opts.ownStatuses?.includes(res.statusCode)
    ) {
      await res.body.dump();
      throw new SmokeError(
        "auth",
        opts.phase,
        `the gateway rejected the token (HTTP ${res.statusCode} on ${method} /${path}): ` +
          "use the stack's token (`VACE_TOKEN=$(pulumi stack output token --show-secrets)`)",
      );
    }
    return {
      status: res.statusCode,
      headers: res.headers,
      body: res.body,
    };
  }

  /**
   * The whole body as text. A connection that drops mid-body is "unreachable" like one that never
   * connected, rather than an unexplained socket error.
   */
  async readText(res: Response, opts: Pick<SendOptions, "phase" | "signal">, what: string) {
    try {
      return await res.body.text();
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      const code = errorCode(err) ?? (err instanceof Error ? err.message : String(err));
      throw new SmokeError(
        "unreachable",
        opts.phase,
        `the connection to ${this.base.host} dropped while reading the answer to ${what} (HTTP ${res.status}, ${code}): ` +
          "the gateway or the instance may have restarted; check that it is running and run the smoke again",
      );
    }
  }

  /** GET/POST expecting a JSON body with status 200; anything else is a "check" failure naming the route. */
  async json<T = unknown>(path: string, opts: SendOptions): Promise<T> {
    const res = await this.send(path, opts);
    const what = `${opts.method ?? "GET"} /${path}`;
    const text = await this.readText(res, opts, what);
    if (res.status !== 200) {
      throw new SmokeError(
        "check",
        opts.phase,
        `${what} answered HTTP ${res.status}: ${text.slice(0, 300) || "(empty body)"}`,
        { status: res.status },
      );
    }
    return parseJson<T>(text, res, opts.phase, what);
  }

  networkError(err: unknown, phase: Phase, what: string): SmokeError {
    const code = errorCode(err);
    const host = this.base.host;
    if (code && TLS_CODES.has(code)) {
      return new SmokeError("unreachable", phase, tlsAdvice(code, host, what, this.#pinned), {
        tls: true,
      });
    }
    const detail = code ?? (err instanceof Error ? err.message : String(err));
    return new SmokeError(
      "unreachable",
      phase,
      `cannot reach ${host} (${detail}) on ${what}: check --url, that the instance is running, ` +
        "and that its security group admits this machine",
    );
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

/** Parses a 200's body; a body that is not JSON (a login page, a proxy's HTML) fails naming the route. */
export function parseJson<T>(
  text: string,
  res: Pick<Response, "status" | "headers">,
  phase: Phase,
  what: string,
): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    const type = res.headers["content-type"];
    throw new SmokeError(
      "check",
      phase,
      `${what} answered HTTP ${res.status} with a body that is not JSON` +
        `${type ? ` (${type})` : ""}: ${JSON.stringify(text.slice(0, 200))}; ` +
        "is --url the ComfyUI gateway, with nothing else (a login page, a proxy) in between?",
      { status: res.status },
    );
  }
}

/** Pure: what a TLS failure means and what to do about it. */
export function tlsAdvice(code: string, host: string, what: string, pinned: boolean): string {
  const head = `TLS to ${host} failed (${code}) on ${what}`;
  if (code === "ERR_SSL_WRONG_VERSION_NUMBER") {
    return `${head}: the server does not speak TLS there; use http:// or the gateway's HTTPS port`;
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return `${head}: the certificate does not name ${host}; use the stack's own URL (\`pulumi stack output url\`)`;
  }
  if (pinned) {
    return (
      `${head}: the gateway's certificate is not the one --ca pins. Each deploy makes its own: refresh the file ` +
      "(`pulumi stack output caCertificate > gateway.pem`) and check that --url is this stack's gateway"
    );
  }
  return (
    `${head}: pass the gateway's certificate with --ca FILE ` +
    "(`pulumi stack output caCertificate > gateway.pem`), or check that --url uses the right scheme"
  );
}

/** The Node/undici error code of `err` or of its cause (undici wraps socket errors). */
export function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code !== "UND_ERR") return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
