/**
 * Readiness: wait, with bounded backoff, until the gateway says ComfyUI answers (`/healthz`) and
 * ComfyUI itself answers `/system_stats` with the token. A fresh instance spends minutes pulling the
 * image and starting ComfyUI, so "not yet" is retried until the phase deadline; a rejected token, a
 * TLS/certificate failure (waiting does not change a certificate) and a non-ComfyUI answer are not.
 */
import { backoff, pause } from "./deadline";
import { SmokeError } from "./errors";
import { type ComfyHttp, parseJson } from "./http";

export interface ReadyOptions {
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** How long readiness may take, for the "waited … of …" on each line (a cold start takes 15–25 min). */
  limitMs?: number;
  log: (line: string) => void;
}

/** `12m05s`: minutes and seconds, for a wait of minutes. */
export function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/**
 * Go's HTTP server (Caddy) and nginx answer a plain-HTTP request on a TLS port with a 400 that says
 * so; waiting never changes that, so readiness must not treat it as "not up yet".
 */
export function speaksHttpsOnly(status: number, body: string): boolean {
  return (
    status === 400 &&
    /Client sent an HTTP request to an HTTPS server|plain HTTP request was sent to HTTPS port/i.test(
      body,
    )
  );
}

/** Statuses meaning "the gateway is up but ComfyUI is not (yet)". */
const NOT_YET = new Set([502, 503, 504]);

/**
 * Resolves with `/system_stats` once the server is ready. Runs until `signal` aborts (the caller's
 * deadline), and says in the abort why the server was not ready, via `status()`.
 */
export async function waitReady(
  http: ComfyHttp,
  signal: AbortSignal,
  opts: ReadyOptions,
  track: { last: string; healthzOkMs?: number },
): Promise<unknown> {
  const delays = backoff(opts.initialDelayMs ?? 250, opts.maxDelayMs ?? 5_000);
  const started = Date.now();
  let gatewaySeen = false;
  for (;;) {
    try {
      if (!gatewaySeen) {
        const req = { phase: "ready", signal } as const;
        const res = await http.send("healthz", req);
        if (res.status === 400) {
          const text = await http.readText(res, req, "GET /healthz");
          if (speaksHttpsOnly(res.status, text)) {
            const host = http.base.host;
            throw new SmokeError(
              "unreachable",
              "ready",
              `${host} speaks HTTPS on that port, and --url says http:// (it answered: ${JSON.stringify(text.trim().slice(0, 100))}): use --url https://${host}`,
              { tls: true, status: 400 },
            );
          }
        } else await res.body.dump();
        // 404: no gateway in front (ComfyUI has no /healthz); go straight to ComfyUI's own answer.
        if (res.status === 200) track.healthzOkMs ??= Date.now();
        if (res.status === 200 || res.status === 404) gatewaySeen = true;
        else
          track.last = `GET /healthz answered ${res.status} (ComfyUI behind the gateway is not up yet)`;
      }
      if (gatewaySeen) {
        const opts = { phase: "ready", signal } as const;
        const res = await http.send("system_stats", opts);
        const text = await http.readText(res, opts, "GET /system_stats");
        if (res.status === 200) return parseJson(text, res, "ready", "GET /system_stats");
        if (!NOT_YET.has(res.status)) {
          throw new SmokeError(
            "check",
            "ready",
            `GET /system_stats answered HTTP ${res.status}: ${text.slice(0, 200)}; is --url a ComfyUI gateway?`,
          );
        }
        track.last = `GET /system_stats answered ${res.status} (ComfyUI is not up yet)`;
      }
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (!(err instanceof SmokeError) || err.kind !== "unreachable" || err.tls) throw err;
      track.last = err.message;
    }
    const delay = delays.next().value;
    const waited = Date.now() - started;
    const of = opts.limitMs === undefined ? "" : ` of ${clock(opts.limitMs)}`;
    opts.log(
      `  not ready (waited ${clock(waited)}${of}): ${track.last}; retrying in ${(delay / 1000).toFixed(1)} s`,
    );
    await pause(delay, signal);
  }
}
