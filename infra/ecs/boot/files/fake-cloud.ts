/**
 * Test double for what the instance talks to: the ECS metadata service (hardened mode only),
 * the OOS and ECS RPC endpoints (checking every signature with an independent implementation),
 * and ComfyUI's /queue. One real HTTP server on 127.0.0.1, ephemeral port.
 */
import { execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const ROLE = "wan-vace-instance";
export const INSTANCE_ID = "i-t4n0fakeinstance";
export const CREDENTIALS = {
  AccessKeyId: "STS.fake-access-key-id",
  AccessKeySecret: "fake/secret+with=odd&chars",
  SecurityToken: "CAIS-fake-security-token/+=",
};

export interface RpcCall {
  service: "oos" | "ecs";
  action: string;
  params: Record<string, string>;
}

export interface FakeCloudOptions {
  /** name → JSON value of each OOS secret parameter. */
  secrets?: Record<string, string>;
  /** The first N credential reads answer 404, as before the RAM role is attached. */
  credentialsMissing?: number;
  /** The next N reads of the role list answer 200 with no role (attached after boot). */
  roleListEmpty?: number;
  /** The next N reads of the role's credentials answer a Code other than Success. */
  credentialsNotReady?: number;
  /** Body of the driver installer served under the mirror path of `source-address`. */
  driverScript?: string;
  /** Error code StopInstance answers with (403), or undefined for success. */
  stopError?: string;
}

/** Alibaba's percent-encoding, written independently of the Python client under test. */
function enc(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

export function rpcSignature(method: string, params: Record<string, string>, secret: string) {
  const canonical = Object.keys(params)
    .sort()
    .map((k) => `${enc(k)}=${enc(params[k] ?? "")}`)
    .join("&");
  return createHmac("sha1", `${secret}&`)
    .update(`${method}&${enc("/")}&${enc(canonical)}`)
    .digest("base64");
}

export class FakeCloud {
  readonly calls: RpcCall[] = [];
  readonly metadataRequests: string[] = [];
  /** name → JSON value of each OOS secret parameter; change it to rotate a secret. */
  readonly secrets: Record<string, string>;
  /** How often the driver installer was downloaded. */
  driverDownloads = 0;
  /** What GET /queue answers: a JSON body, or a status with a non-JSON body. */
  queue: { running: unknown[]; pending: unknown[] } | "error" = { running: [], pending: [] };
  private readonly server: Server;
  private readonly sessionToken = "md-session-token-1";
  private credentialsMissing: number;
  private roleListEmpty: number;
  private credentialsNotReady: number;
  port = 0;

  constructor(private readonly options: FakeCloudOptions = {}) {
    this.secrets = { ...options.secrets };
    this.credentialsMissing = options.credentialsMissing ?? 0;
    this.roleListEmpty = options.roleListEmpty ?? 0;
    this.credentialsNotReady = options.credentialsNotReady ?? 0;
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Environment that points the on-instance programs at this fake. */
  env(): Record<string, string> {
    return {
      WAN_VACE_METADATA_URL: this.url,
      WAN_VACE_OOS_URL: `${this.url}/oos`,
      WAN_VACE_ECS_URL: `${this.url}/ecs`,
      WAN_VACE_QUEUE_URL: `${this.url}/queue`,
    };
  }

  callsTo(action: string): RpcCall[] {
    return this.calls.filter((c) => c.action === action);
  }

  private handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", this.url);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(typeof body === "string" ? body : JSON.stringify(body));
    };
    if (url.pathname === "/queue") {
      if (this.queue === "error") return send(500, "<html>boom</html>");
      return send(200, { queue_running: this.queue.running, queue_pending: this.queue.pending });
    }
    if (url.pathname.startsWith("/latest/")) return this.metadata(req, url.pathname, send);
    if (url.pathname === "/opsx/ecs/linux/binary/script/auto_install_v4.0.sh") {
      if (this.options.driverScript === undefined) return send(404, "no driver script");
      this.driverDownloads += 1;
      return send(200, this.options.driverScript);
    }
    const service = url.pathname.replace(/\/$/, "").slice(1);
    if (req.method === "GET" && (service === "oos" || service === "ecs")) {
      return this.rpc(service, Object.fromEntries(url.searchParams), send);
    }
    send(404, { Code: "NotFound", Message: url.pathname });
  }

  private metadata(req: IncomingMessage, path: string, send: (s: number, b: unknown) => void) {
    this.metadataRequests.push(`${req.method} ${path}`);
    if (path === "/latest/api/token") {
      if (req.method !== "PUT" || !req.headers["x-aliyun-ecs-metadata-token-ttl-seconds"]) {
        return send(400, "token needs PUT with a TTL header");
      }
      return send(200, this.sessionToken);
    }
    // Hardened mode: every read must carry the session token.
    if (req.headers["x-aliyun-ecs-metadata-token"] !== this.sessionToken) {
      return send(401, "missing or wrong metadata token");
    }
    const item = path.replace("/latest/meta-data/", "");
    if (item === "instance-id") return send(200, INSTANCE_ID);
    // The internal package mirror: here, this fake itself.
    if (item === "source-address") return send(200, this.url);
    if (item.startsWith("ram/security-credentials/") && this.credentialsMissing > 0) {
      this.credentialsMissing -= 1;
      return send(404, "Not Found");
    }
    if (item === "ram/security-credentials/") {
      if (this.roleListEmpty > 0) {
        this.roleListEmpty -= 1;
        return send(200, "");
      }
      return send(200, ROLE);
    }
    if (item === `ram/security-credentials/${ROLE}`) {
      if (this.credentialsNotReady > 0) {
        this.credentialsNotReady -= 1;
        return send(200, { Code: "Failure", Message: "role is being attached" });
      }
      return send(200, { Code: "Success", Expiration: "2099-01-01T00:00:00Z", ...CREDENTIALS });
    }
    send(404, "Not Found");
  }

  private rpc(
    service: "oos" | "ecs",
    query: Record<string, string>,
    send: (s: number, b: unknown) => void,
  ) {
    const { Signature, ...params } = query;
    if (
      params.AccessKeyId !== CREDENTIALS.AccessKeyId ||
      params.SecurityToken !== CREDENTIALS.SecurityToken ||
      params.SignatureMethod !== "HMAC-SHA1" ||
      params.SignatureVersion !== "1.0" ||
      !params.SignatureNonce ||
      !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(params.Timestamp ?? "") ||
      Signature !== rpcSignature("GET", params, CREDENTIALS.AccessKeySecret)
    ) {
      return send(400, { Code: "SignatureDoesNotMatch", Message: "bad signature or credentials" });
    }
    const action = params.Action ?? "";
    this.calls.push({ service, action, params });
    if (service === "oos" && action === "GetSecretParameter" && params.Version === "2019-06-01") {
      const value = this.secrets[params.Name ?? ""];
      if (value === undefined) {
        return send(404, { Code: "EntityNotExists.Parameter", Message: "no such parameter" });
      }
      const withValue = params.WithDecryption === "true" ? { Value: value } : {};
      return send(200, {
        RequestId: "r1",
        Parameter: { Name: params.Name, Type: "Secret", ...withValue },
      });
    }
    if (service === "ecs" && action === "StopInstance" && params.Version === "2014-05-26") {
      if (this.options.stopError)
        return send(403, { Code: this.options.stopError, Message: "denied" });
      return send(200, { RequestId: "r2" });
    }
    if (service === "ecs" && action === "DescribeInstances") {
      const ids = JSON.parse(params.InstanceIds ?? "[]") as string[];
      const instances = ids.map((id) => ({
        InstanceId: id,
        Status: "Stopping",
        StoppedMode: "StopCharging",
      }));
      return send(200, { RequestId: "r3", Instances: { Instance: instances } });
    }
    send(400, { Code: "InvalidAction.NotFound", Message: `${service} ${action}` });
  }
}

export const FILES = __dirname;

/**
 * Runs python3 in the files directory (so `import aliyun_rpc` works) with only the given
 * environment; async, so the fake in this process keeps answering. No bytecode is left behind.
 */
export function runPython(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // WAN_VACE_PYTHON picks another interpreter, e.g. a 3.10 like Ubuntu 22.04's.
    execFile(
      process.env.WAN_VACE_PYTHON ?? "python3",
      args,
      {
        cwd: FILES,
        env: { PATH: process.env.PATH ?? "", PYTHONDONTWRITEBYTECODE: "1", ...env },
        timeout: 20_000,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
