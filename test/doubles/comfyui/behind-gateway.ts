/**
 * Test-only: the ComfyUI double behind the real gateway (docker/gateway/run → Caddy with its internal
 * CA), the path a deployed instance takes, token and certificate pin included.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Gateway, startGateway } from "../../../docker/gateway/launch";
import { requireBinary } from "../../binaries";
import { type ComfyDouble, startComfyDouble } from "./server";

export interface BehindGateway {
  comfy: ComfyDouble;
  gateway: Gateway;
  /** The gateway's internal root certificate (PEM) and its file, to pin with `ca` / `--ca`. */
  ca: string;
  caFile: string;
  stop(): Promise<void>;
}

export async function startBehindGateway(token: string): Promise<BehindGateway> {
  requireBinary("caddy");
  requireBinary("ffmpeg");
  const comfy = await startComfyDouble();
  const gateway = await startGateway({
    VACE_TOKEN: token,
    VACE_UPSTREAM: new URL(comfy.url).host,
    VACE_TLS: "internal",
  });
  const caFile = join(gateway.dataDir, "caddy", "pki", "authorities", "local", "root.crt");
  return {
    comfy,
    gateway,
    ca: await readFile(caFile, "utf8"),
    caFile,
    stop: async () => {
      await gateway.stop();
      await comfy.close();
    },
  };
}
