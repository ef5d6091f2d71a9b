/**
 * `vace rehearse`: the whole client path without a cloud or a GPU. The ComfyUI protocol DOUBLE
 * (test/doubles/comfyui, the test stand-in for ComfyUI; it renders a synthetic video, runs no
 * model) sits behind the REAL gateway (docker/gateway/run → Caddy, TLS from Caddy's internal CA,
 * pinned; the token), and the real smoke runs against it, exactly as `vace e2e` runs it after a
 * deploy. Nothing here pretends the double is the product: every line says which parts were real.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Gateway, startGateway } from "../docker/gateway/launch";
import { type ComfyDouble, startComfyDouble } from "../test/doubles/comfyui/server";

export const DOUBLE_NOTICE = [
  "REHEARSAL: the server behind the gateway is a ComfyUI protocol DOUBLE (test/doubles/comfyui),",
  "not ComfyUI: no GPU and no model run; it renders a synthetic video. Real here: the gateway",
  "(docker/gateway/run, Caddy), TLS with the certificate pinned, token auth, and the smoke client.",
];

export interface Rehearsal {
  /** The gateway's URL, e.g. https://127.0.0.1:40123 */
  url: string;
  token: string;
  /** PEM of the CA the gateway's certificate chains to (Caddy's internal root), to pin. */
  ca: string;
  stop(): Promise<void>;
}

/** Starts the double and the real gateway in front of it, on loopback. */
export async function startRehearsal(): Promise<Rehearsal> {
  const token = randomBytes(32).toString("hex");
  let double: ComfyDouble | undefined;
  let gateway: Gateway | undefined;
  const stop = async () => {
    await gateway?.stop();
    await double?.close();
  };
  try {
    double = await startComfyDouble();
    gateway = await startGateway({
      VACE_TOKEN: token,
      VACE_UPSTREAM: new URL(double.url).host,
      VACE_TLS: "internal",
    });
    const ca = await readFile(
      join(gateway.dataDir, "caddy", "pki", "authorities", "local", "root.crt"),
      "utf8",
    );
    return { url: gateway.url, token, ca, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
