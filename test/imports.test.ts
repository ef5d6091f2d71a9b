/**
 * design.md: imports run one way, `cli/` → (`ops/`, `smoke/`, `infra/`, `docker/`) →
 * `infra/common/`. Nothing below the CLI imports it, so each layer can be used without it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..");

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".test.ts"))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** Module specifiers of static imports, re-exports and dynamic imports. */
function imports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  return [...text.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map((m) => m[1] ?? "");
}

describe("import direction", () => {
  const layers = ["ops", "smoke", "infra", "docker"];

  it.each(layers)("nothing in %s/ imports cli/", (layer) => {
    const files = sources(layer);
    expect(files.length).toBeGreaterThan(0);
    const offending = files.flatMap((file) =>
      imports(file)
        .filter((spec) => spec.startsWith("."))
        .filter((spec) => relative(ROOT, join(ROOT, file, "..", spec)).split("/")[0] === "cli")
        .map((spec) => `${file} imports ${spec}`),
    );
    expect(offending).toEqual([]);
  });

  // The validated config is the one thing every layer reads; common helpers may read its types.
  it("infra/common/ imports nothing but itself and infra/config", () => {
    const offending = sources("infra/common").flatMap((file) =>
      imports(file)
        .filter((spec) => spec.startsWith("."))
        .map((spec) => [spec, relative(ROOT, join(ROOT, file, "..", spec))] as const)
        .filter(([, path]) => !path.startsWith("infra/common/") && path !== "infra/config")
        .map(([spec]) => spec)
        .map((spec) => `${file} imports ${spec}`),
    );
    expect(offending).toEqual([]);
  });
});
