/**
 * Issue 12 item 8: the README's configuration table shows each default exactly as Pulumi.yaml (and
 * so infra/config.ts, which a test keeps equal) has it, so copying a default from it validates.
 * It once listed instanceTypes without their `ecs.` prefix.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { loadConfig } from "../infra/config";

const ROOT = join(__dirname, "..");
const README = readFileSync(join(ROOT, "README.md"), "utf8");
const SCHEMA = (
  parseYaml(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8")) as {
    config: Record<string, { default?: unknown }>;
  }
).config;

/** `| `a` / `b` | `1` / `2` | meaning |` rows of the configuration table, as key → default cell. */
function configRows(): Map<string, string> {
  const start = README.indexOf("## Configuration");
  const table = README.slice(start, README.indexOf("\n## ", start + 1));
  const rows = new Map<string, string>();
  for (const line of table.split("\n")) {
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
    if (cells.length < 4 || !cells[1]?.startsWith("`")) continue;
    const keys = (cells[1] ?? "").split(" / ").map((k) => k.replace(/`/g, ""));
    const defaults = keys.length > 1 ? (cells[2] ?? "").split(" / ") : [cells[2] ?? ""];
    for (const [i, k] of keys.entries()) rows.set(k, defaults[i] ?? "");
  }
  return rows;
}

const literals = (cell: string) => [...cell.matchAll(/`([^`]*)`/g)].map((m) => m[1]);

describe("README configuration table", () => {
  const rows = configRows();

  it.each(Object.entries(SCHEMA).filter(([, s]) => s.default !== undefined))(
    "shows %s's default as Pulumi.yaml has it",
    (key, schema) => {
      const cell = rows.get(key);
      expect(cell, `README has no row for ${key}`).toBeDefined();
      const shown = literals(cell ?? "");
      const d = schema.default;
      if (Array.isArray(d)) {
        // Either the list as one literal, `[a, b]`, or each item as its own literal.
        expect([[`[${d.join(", ")}]`], d.map(String)]).toContainEqual(shown);
      } else {
        expect(shown[0]).toBe(String(d));
      }
    },
  );

  it("lists instance types that pass validation when copied as written", () => {
    const types = literals(rows.get("instanceTypes") ?? "");
    expect(types.length).toBeGreaterThan(1);
    const r = loadConfig({
      "wan-vace:image": "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0",
      "wan-vace:instanceTypes": types,
    });
    expect(r.config.instanceTypes).toEqual(types);
  });
});
