/**
 * A small Alibaba Cloud RPC (signature V1) client: the same protocol as the instance's
 * infra/ecs/boot/files/aliyun_rpc.py, in TypeScript for the reaper and teardown checks; plus ROA
 * calls signed with V3 (ACS3-HMAC-SHA256) for Container Service, whose clusters have no RPC API.
 *
 * Why not the official SDKs: each service is its own npm package (@alicloud/ecs20140526, vpc20160428,
 * ram20150501, oos20190601), each pulling the Tea runtime and its helpers, for nine read/delete calls
 * whose whole protocol is a sorted query string and one HMAC-SHA1. This file is that protocol, and the
 * loopback fake in test/doubles/alibaba checks the signature of every request it answers.
 */
import { createHash, createHmac, randomUUID } from "node:crypto";

export type Service = "ecs" | "vpc" | "ram" | "oos" | "slb" | "cs";

const VERSIONS: Record<Service, string> = {
  ecs: "2014-05-26",
  vpc: "2016-04-28",
  ram: "2015-05-01",
  oos: "2019-06-01",
  slb: "2014-05-15",
  cs: "2015-12-15",
};

/** Public endpoints; RAM is global. */
export function defaultEndpoint(service: Service, region: string): string {
  return service === "ram"
    ? "https://ram.aliyuncs.com"
    : `https://${service}.${region}.aliyuncs.com`;
}

export interface Credentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
}

/** Credentials from the environment variables the Alibaba CLI, SDKs and Pulumi provider read. */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  const accessKeyId = env.ALIBABA_CLOUD_ACCESS_KEY_ID ?? env.ALICLOUD_ACCESS_KEY;
  const accessKeySecret = env.ALIBABA_CLOUD_ACCESS_KEY_SECRET ?? env.ALICLOUD_SECRET_KEY;
  if (!accessKeyId || !accessKeySecret) return undefined;
  const securityToken = env.ALIBABA_CLOUD_SECURITY_TOKEN ?? env.ALICLOUD_SECURITY_TOKEN;
  return { accessKeyId, accessKeySecret, ...(securityToken && { securityToken }) };
}

/** Codes worth repeating: throttling, the service briefly unavailable, or a dependency still going away. */
const RETRYABLE = [
  /^Throttling/,
  /^ServiceUnavailable/,
  /^InternalError/,
  /^DependencyViolation/,
  /^IncorrectEipStatus/,
  /^IncorrectInstanceStatus/,
  /^IncorrectVpcStatus/,
  /^IncorrectStatus/,
  /^OperationConflict/,
  /^LastTokenProcessing/,
];

export class RpcError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly action: string,
    readonly requestId?: string,
  ) {
    super(`${action}: ${code}: ${message}${requestId ? ` (RequestId ${requestId})` : ""}`);
    this.name = "RpcError";
  }
  get retryable(): boolean {
    return RETRYABLE.some((r) => r.test(this.code));
  }
}

/** Alibaba's percent-encoding: only A-Z a-z 0-9 - _ . ~ stay literal. */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

export function canonicalQuery(params: Record<string, string>): string {
  return Object.keys(params)
    .sort()
    .map((k) => `${percentEncode(k)}=${percentEncode(params[k] ?? "")}`)
    .join("&");
}

/** Signature V1: HMAC-SHA1 over `METHOD&%2F&<encoded canonical query>`, keyed with `secret&`. */
export function sign(method: string, params: Record<string, string>, secret: string): string {
  const toSign = `${method}&${percentEncode("/")}&${percentEncode(canonicalQuery(params))}`;
  return createHmac("sha1", `${secret}&`).update(toSign).digest("base64");
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/**
 * Signature V3 (ACS3-HMAC-SHA256), which ROA APIs such as Container Service accept: HMAC-SHA256 over
 * `ACS3-HMAC-SHA256\n<sha256 of the canonical request>`; the canonical request is method, path,
 * canonical query, the signed headers (lower-case, sorted) and the payload's sha256.
 */
export function signV3(
  method: string,
  path: string,
  query: Record<string, string>,
  headers: Record<string, string>,
  secret: string,
): { signature: string; signedHeaders: string } {
  const names = Object.keys(headers)
    .map((h) => h.toLowerCase())
    .filter((h) => h === "host" || h === "content-type" || h.startsWith("x-acs-"))
    .sort();
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const canonical = [
    method,
    path,
    canonicalQuery(query),
    ...names.map((h) => `${h}:${(lower[h] ?? "").trim()}`),
    "",
    names.join(";"),
    lower["x-acs-content-sha256"] ?? sha256(""),
  ].join("\n");
  const signature = createHmac("sha256", secret)
    .update(`ACS3-HMAC-SHA256\n${sha256(canonical)}`)
    .digest("hex");
  return { signature, signedHeaders: names.join(";") };
}

export interface RpcClientOptions {
  credentials: Credentials;
  region: string;
  /** Replaces the endpoint per service (tests point every service at a loopback fake). */
  endpoint?: (service: Service) => string;
  /** Attempts per call, including the first (default 4). */
  attempts?: number;
  /** First retry delay; doubles each time (default 1000 ms). */
  retryDelayMs?: number;
  /** Told about each retry, so a run's log shows the API errors it got past. */
  onRetry?: (error: Error, attempt: number) => void;
}

export type RpcParams = Record<string, string | number | boolean | undefined>;

export class RpcClient {
  constructor(private readonly opts: RpcClientOptions) {}

  get region(): string {
    return this.opts.region;
  }

  /** Calls ACTION, retrying retryable errors and network failures; throws RpcError on the last. */
  async call<T = Record<string, unknown>>(
    service: Service,
    action: string,
    params: RpcParams = {},
  ): Promise<T> {
    return (await this.retrying(() => this.once(service, action, params))) as T;
  }

  /**
   * A ROA call (Container Service: METHOD /path?query), signed with V3 and retried like `call`.
   * `action` is the API's name (x-acs-action), for errors and the log.
   */
  async roa<T = Record<string, unknown>>(
    service: Service,
    action: string,
    method: "GET" | "DELETE",
    path: string,
    params: RpcParams = {},
  ): Promise<T> {
    return (await this.retrying(() => this.roaOnce(service, action, method, path, params))) as T;
  }

  private async retrying(run: () => Promise<unknown>): Promise<unknown> {
    const attempts = this.opts.attempts ?? 4;
    let delay = this.opts.retryDelayMs ?? 1000;
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (e) {
        const retryable = e instanceof RpcError ? e.retryable : true;
        if (!retryable || attempt >= attempts) throw e;
        this.opts.onRetry?.(e as Error, attempt);
        await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
      }
    }
  }

  private async once(service: Service, action: string, params: RpcParams): Promise<unknown> {
    const { credentials: c } = this.opts;
    const query: Record<string, string> = {
      Format: "JSON",
      Version: VERSIONS[service],
      AccessKeyId: c.accessKeyId,
      SignatureMethod: "HMAC-SHA1",
      SignatureVersion: "1.0",
      SignatureNonce: randomUUID(),
      Timestamp: `${new Date().toISOString().slice(0, 19)}Z`,
      Action: action,
      ...(c.securityToken && { SecurityToken: c.securityToken }),
    };
    for (const [k, v] of Object.entries(params)) if (v !== undefined) query[k] = String(v);
    query.Signature = sign("GET", query, c.accessKeySecret);
    const base = this.opts.endpoint?.(service) ?? defaultEndpoint(service, this.opts.region);
    const res = await fetch(`${base.replace(/\/$/, "")}/?${canonicalQuery(query)}`, {
      signal: AbortSignal.timeout(30_000),
    });
    return parseResponse(res, action);
  }

  private async roaOnce(
    service: Service,
    action: string,
    method: "GET" | "DELETE",
    path: string,
    params: RpcParams,
  ): Promise<unknown> {
    const { credentials: c } = this.opts;
    const base = new URL(
      this.opts.endpoint?.(service) ?? defaultEndpoint(service, this.opts.region),
    );
    const query: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) if (v !== undefined) query[k] = String(v);
    const headers: Record<string, string> = {
      host: base.host,
      "x-acs-action": action,
      "x-acs-version": VERSIONS[service],
      "x-acs-date": `${new Date().toISOString().slice(0, 19)}Z`,
      "x-acs-signature-nonce": randomUUID(),
      "x-acs-content-sha256": sha256(""),
      ...(c.securityToken && { "x-acs-security-token": c.securityToken }),
    };
    // The endpoint's own path (tests route by service) is a prefix the gateway never sees.
    const { signature, signedHeaders } = signV3(method, path, query, headers, c.accessKeySecret);
    const { host: _host, ...sent } = headers;
    const qs = canonicalQuery(query);
    const res = await fetch(`${base.href.replace(/\/$/, "")}${path}${qs ? `?${qs}` : ""}`, {
      method,
      headers: {
        ...sent,
        authorization: `ACS3-HMAC-SHA256 Credential=${c.accessKeyId},SignedHeaders=${signedHeaders},Signature=${signature}`,
      },
      signal: AbortSignal.timeout(30_000),
    });
    return parseResponse(res, action);
  }
}

/** The JSON body, or an RpcError with the API's code (RPC: Code/Message; ROA: code/message too). */
async function parseResponse(res: Response, action: string): Promise<unknown> {
  {
    const text = await res.text();
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new RpcError(
        res.status >= 500 ? "ServiceUnavailable" : "InvalidResponse",
        `HTTP ${res.status}, not JSON: ${text.slice(0, 120)}`,
        action,
      );
    }
    if (!res.ok) {
      const requestId = body.RequestId ?? body.requestId;
      throw new RpcError(
        String(body.Code ?? body.code ?? `HTTP${res.status}`),
        String(body.Message ?? body.message ?? text.slice(0, 200)),
        action,
        typeof requestId === "string" ? requestId : undefined,
      );
    }
    return body;
  }
}
