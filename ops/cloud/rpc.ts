/**
 * A small Alibaba Cloud RPC (signature V1) client: the same protocol as the instance's
 * infra/ecs/boot/files/aliyun_rpc.py, in TypeScript for the reaper and teardown checks.
 *
 * Why not the official SDKs: each service is its own npm package (@alicloud/ecs20140526, vpc20160428,
 * ram20150501, oos20190601), each pulling the Tea runtime and its helpers, for nine read/delete calls
 * whose whole protocol is a sorted query string and one HMAC-SHA1. This file is that protocol, and the
 * loopback fake in test/doubles/alibaba checks the signature of every request it answers.
 */
import { createHmac, randomUUID } from "node:crypto";

export type Service = "ecs" | "vpc" | "ram" | "oos" | "slb";

const VERSIONS: Record<Service, string> = {
  ecs: "2014-05-26",
  vpc: "2016-04-28",
  ram: "2015-05-01",
  oos: "2019-06-01",
  slb: "2014-05-15",
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
    const attempts = this.opts.attempts ?? 4;
    let delay = this.opts.retryDelayMs ?? 1000;
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.once(service, action, params)) as T;
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
      throw new RpcError(
        String(body.Code ?? `HTTP${res.status}`),
        String(body.Message ?? text.slice(0, 200)),
        action,
        typeof body.RequestId === "string" ? body.RequestId : undefined,
      );
    }
    return body;
  }
}
