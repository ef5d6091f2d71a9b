/**
 * docker/compose.yaml, checked without Docker: both services share the host's network namespace
 * with nothing published, ComfyUI is reached only through the gateway at 127.0.0.1:8188, the
 * gateway gets exactly contract 6's variables, and no secret is written in the file.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const TEXT = readFileSync(join(__dirname, "compose.yaml"), "utf8");
const compose = parse(TEXT);
const services: Record<string, Record<string, unknown>> = compose.services;

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

  it("shares one network namespace, publishes no port, and lets ComfyUI keep its loopback bind", () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.network_mode, name).toBe("host");
      expect(s.ports, name).toBeUndefined();
      expect(s.expose, name).toBeUndefined();
    }
    // No command/entrypoint override: the image's ENTRYPOINT fixes --listen 127.0.0.1.
    expect(services.comfyui?.command).toBeUndefined();
    expect(services.comfyui?.entrypoint).toBeUndefined();
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
    // `:?` makes compose refuse to start without a token instead of running with an empty one.
    expect(env.VACE_TOKEN).toMatch(/^\$\{VACE_TOKEN:\?[^}]+\}$/);
    // Caddy's autosaved config stays on a tmpfs.
    expect(services.gateway?.tmpfs).toContain(env.XDG_CONFIG_HOME);
    // Nothing token-shaped is written anywhere in the file.
    expect(TEXT).not.toMatch(/[A-Za-z0-9_-]{32,}/);
  });
});
