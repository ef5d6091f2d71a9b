/**
 * docker/compose.yaml, checked without Docker: the gateway shares ComfyUI's network namespace on a
 * private bridge network (never the host's), only the gateway's port is published (on 127.0.0.1
 * unless VACE_BIND says otherwise), ComfyUI is reached only through the gateway at 127.0.0.1:8188,
 * the gateway gets exactly contract 6's variables, and no secret is written in the file.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const TEXT = readFileSync(join(__dirname, "compose.yaml"), "utf8");
const compose = parse(TEXT);
const services: Record<string, Record<string, unknown>> = compose.services;

/** Compose's `${VAR:-default}` interpolation, for the forms this file uses. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(
    /\$\{(\w+):-([^}]*)\}/g,
    (_, name: string, dflt: string) => env[name] ?? dflt,
  );
}

describe("docker/compose.yaml", () => {
  it("runs the ComfyUI image and the gateway sidecar, built from this repository's Dockerfiles", () => {
    expect(Object.keys(services)).toEqual(["comfyui", "gateway"]);
    for (const s of Object.values(services)) {
      const build = s.build as { context: string; dockerfile: string };
      expect(existsSync(join(__dirname, build.context, build.dockerfile))).toBe(true);
    }
    expect(services.comfyui?.build).toEqual({
      context: "..",
      dockerfile: "docker/comfyui/Dockerfile",
    });
  });

  it("puts ComfyUI on a private bridge network, never the host's, with the gateway in its namespace", () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.network_mode, name).not.toBe("host");
      expect(s.expose, name).toBeUndefined();
    }
    expect(services.comfyui?.networks).toEqual(["vace"]);
    expect(compose.networks).toEqual({ vace: { driver: "bridge" } });
    expect(services.gateway?.network_mode).toBe("service:comfyui");
    // No command/entrypoint override: the image's entry point fixes --listen 127.0.0.1.
    expect(services.comfyui?.command).toBeUndefined();
    expect(services.comfyui?.entrypoint).toBeUndefined();
  });

  it("publishes only the gateway's listener, on 127.0.0.1 unless VACE_BIND opens it", () => {
    expect(services.gateway?.ports).toBeUndefined();
    const ports = services.comfyui?.ports as string[];
    expect(ports).toHaveLength(1);
    const env = services.gateway?.environment as Record<string, string>;
    const listen = env.VACE_LISTEN as string;
    const published = (env: Record<string, string>) => ({
      port: interpolate(ports[0] as string, env),
      listen: interpolate(listen, env),
    });
    expect(published({})).toEqual({ port: "127.0.0.1:8443:8443", listen: ":8443" });
    expect(published({ VACE_BIND: "0.0.0.0", VACE_PORT: "443" })).toEqual({
      port: "0.0.0.0:443:443",
      listen: ":443",
    });
    // ComfyUI's own port is never published, whatever the settings.
    expect(ports.join(" ")).not.toContain("8188");
  });

  it("reserves the GPU for ComfyUI", () => {
    expect(services.comfyui?.deploy).toEqual({
      resources: {
        reservations: { devices: [{ driver: "nvidia", count: "all", capabilities: ["gpu"] }] },
      },
    });
  });

  it("gives the gateway contract 6's variables, the token only by reference", () => {
    const env = services.gateway?.environment as Record<string, string>;
    expect(Object.keys(env).filter((k) => k.startsWith("VACE_"))).toEqual([
      "VACE_TOKEN",
      "VACE_UPSTREAM",
      "VACE_LISTEN",
      "VACE_TLS",
    ]);
    expect(env.VACE_UPSTREAM).toBe("127.0.0.1:8188");
    // A certificate clients can pin, mounted read-only (the internal CA would sign for the
    // container's own address, which no client connects to through the published port).
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose interpolation syntax, not a JS template
    expect(env.VACE_TLS).toBe("${VACE_TLS:-/tls/cert.pem /tls/key.pem}");
    expect(services.gateway?.volumes).toContain("./tls:/tls:ro");
    // `:?` makes compose refuse to start without a token instead of running with an empty one.
    expect(env.VACE_TOKEN).toMatch(/^\$\{VACE_TOKEN:\?[^}]+\}$/);
    // Caddy's autosaved config stays on a tmpfs.
    expect(services.gateway?.tmpfs).toContain(env.XDG_CONFIG_HOME);
    // Nothing token-shaped is written anywhere in the file.
    expect(TEXT).not.toMatch(/[A-Za-z0-9_-]{32,}/);
  });
});
