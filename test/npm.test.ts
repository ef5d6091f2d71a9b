/**
 * Issue 12 items 1 and 7: npm says only what matters. Every dependency install script is decided in
 * package.json's allowScripts (npm 11 otherwise warns on each `npm ci`), and an old Node.js stops
 * `npm ci` at once instead of a warning followed by a crash inside undici. A test run prints only
 * what matters.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..");
const read = (file: string) => readFileSync(join(ROOT, file), "utf8");

describe("npm configuration", () => {
  it("decides every install script in the lockfile: allowScripts names each such package", () => {
    const lock = JSON.parse(read("package-lock.json")) as {
      packages: Record<string, { hasInstallScript?: boolean }>;
    };
    const withScripts = Object.entries(lock.packages)
      .filter(([, p]) => p.hasInstallScript)
      .map(([path]) => path.replace(/^.*node_modules\//, ""))
      .sort();
    const { allowScripts } = JSON.parse(read("package.json")) as {
      allowScripts: Record<string, boolean>;
    };
    expect(withScripts.length).toBeGreaterThan(0);
    expect(Object.keys(allowScripts).sort()).toEqual(withScripts);
  });

  it("refuses an old Node.js at npm ci (engine-strict), not only warns", () => {
    const settings = read(".npmrc")
      .split("\n")
      .filter((l) => l.trim() && !l.startsWith("#"));
    expect(settings).toContain("engine-strict=true");
  });
});

describe("test output", () => {
  it("leaves out only the program's own [runtime] warnings, which tests assert where they matter", async () => {
    // A computed path: TypeScript (nodenext) will not name a .mts file; vitest loads it as written.
    const { default: config } = (await import(join(ROOT, "vitest.config.mts"))) as {
      default: import("vitest/config").ViteUserConfig;
    };
    const keep = config.test?.onConsoleLog;
    if (!keep) throw new Error("vitest.config.mts sets no onConsoleLog");
    const shown = (log: string) => keep(log, "stderr", undefined) !== false;
    expect(
      shown("warning: [runtime] wan-vace:allowedCidrs: port 443 is open to the whole internet"),
    ).toBe(false);
    expect(shown("error: [runtime] something broke")).toBe(true);
    expect(shown("a test's own diagnostic")).toBe(true);
  });
});
