/**
 * Issue 12 items 1 and 7: npm says only what matters. Every dependency install script is decided in
 * package.json's allowScripts (npm 11 otherwise warns on each `npm ci`), and an old Node.js stops
 * `npm ci` at once instead of a warning followed by a crash inside undici.
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
