/**
 * Starts the real gateway (docker/gateway/run → caddy) for tests and benchmarks, on loopback,
 * and captures everything it logs. Callers must `stop()` it (afterAll / finally).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const GATEWAY_RUN = join(__dirname, "run");
export const GATEWAY_CADDYFILE = join(__dirname, "Caddyfile");

export interface GatewayEnv {
  VACE_TOKEN: string;
  VACE_UPSTREAM: string;
  VACE_TLS: string;
  VACE_ACME_EMAIL?: string;
  VACE_ACCESS_LOG?: string;
}

export interface Gateway {
  readonly port: number;
  /** Base URL, e.g. http://127.0.0.1:40123 */
  readonly url: string;
  readonly pid: number;
  /** Caddy's data directory (internal CA root under caddy/pki/authorities/local/). */
  readonly dataDir: string;
  /** Caddy's config directory (autosave.json). */
  readonly configDir: string;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return address.port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

/** What to run once a port is chosen: a command, its environment, and the scheme it serves. */
export interface LaunchSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  scheme: "http" | "https";
}

/** Runs docker/gateway/run with `env` on 127.0.0.1:<free port> and waits until it accepts. */
export function startGateway(env: GatewayEnv, timeoutMs = 10_000): Promise<Gateway> {
  return startGatewayWith(
    (port) => ({
      command: GATEWAY_RUN,
      args: [],
      env: { VACE_LISTEN: `127.0.0.1:${port}`, ...env },
      scheme: env.VACE_TLS === "off" ? "http" : "https",
    }),
    timeoutMs,
  );
}

/** Like startGateway, for any command (e.g. caddy itself); private HOME and XDG directories. */
export async function startGatewayWith(
  spec: (port: number) => LaunchSpec,
  timeoutMs = 10_000,
): Promise<Gateway> {
  const port = await freePort();
  const { command, args, env, scheme } = spec(port);
  const scratch = mkdtempSync(join(tmpdir(), "vace-gw-"));
  const dataDir = join(scratch, "data");
  const configDir = join(scratch, "config");
  const child = spawn(command, args, {
    env: {
      PATH: process.env.PATH,
      HOME: scratch,
      XDG_DATA_HOME: dataDir,
      XDG_CONFIG_HOME: configDir,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited(child);
    rmSync(scratch, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`gateway did not start on 127.0.0.1:${port}:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    dataDir,
    configDir,
    output: () => output,
    stop,
  };
}

/**
 * Waits until `probe` (one GET /healthz, returning its status) says `want`. The gateway learns
 * ComfyUI's state from an active health check once a second (and its first check runs before
 * its health socket listens), so /healthz may lag a start or a stop of ComfyUI by a second.
 */
export async function untilHealthz(probe: () => Promise<number>, want = 200, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  while (Date.now() < deadline) {
    last = await probe().catch(() => 0);
    if (last === want) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`/healthz still answered ${last}, not ${want}, after ${timeoutMs} ms`);
}
