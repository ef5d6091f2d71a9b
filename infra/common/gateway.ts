/**
 * How the gateway sidecar is configured on either target (design.md contract 6). The token
 * itself never appears here: it reaches the gateway from the secret store at start.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { WanVaceConfig } from "../config";

/** Where the deploy-time certificate and key live inside the gateway's filesystem (tmpfs). */
export const TLS_DIR = "/run/wan-vace/tls";
export const COMFYUI_UPSTREAM = "127.0.0.1:8188";
/** The gateway's access log on ECS; the idle watchdog reads it (infra/ecs/boot). */
export const ACCESS_LOG = "/var/log/wan-vace/access.log";

/** The `VACE_TLS` value for a TLS mode (contract 6's exact forms). */
export function gatewayTlsValue(tls: WanVaceConfig["tls"]): string {
  switch (tls.mode) {
    case "acme":
      return tls.domain;
    case "internal":
      return "internal";
    case "selfsigned":
      return `${TLS_DIR}/cert.pem ${TLS_DIR}/key.pem`;
  }
}

/** Non-secret gateway environment; VACE_TOKEN is added at start from the secret store. */
export function gatewayEnv(c: Pick<WanVaceConfig, "tls">): Record<string, string> {
  return {
    VACE_UPSTREAM: COMFYUI_UPSTREAM,
    VACE_LISTEN: ":443",
    VACE_TLS: gatewayTlsValue(c.tls),
    VACE_ACCESS_LOG: ACCESS_LOG,
    ...(c.tls.mode === "acme" && c.tls.email !== undefined && { VACE_ACME_EMAIL: c.tls.email }),
  };
}

/** The gateway's Caddyfile as shipped in its image, for `vace render`. */
export function gatewayCaddyfile(): string {
  return readFileSync(join(__dirname, "..", "..", "docker", "gateway", "Caddyfile"), "utf8");
}
