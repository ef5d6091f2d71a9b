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
  log: (line: string) => void;
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
  let gatewaySeen = false;
  for (;;) {
    try {
      if (!gatewaySeen) {
        const res = await http.send("healthz", { phase: "ready", signal });
        await res.body.dump();
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
    opts.log(`  not ready: ${track.last}; retrying in ${(delay / 1000).toFixed(1)} s`);
    await pause(delay, signal);
  }
}
