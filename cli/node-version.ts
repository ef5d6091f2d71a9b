/**
 * Refuses to start on a Node.js older than package.json's `engines.node`, naming the fix.
 * cli/index.ts imports this first, before anything that loads undici: on Node 20 undici dies at
 * load time with "Cannot read properties of undefined (reading 'bind')", which names nothing a
 * user can act on. Keep this file free of other imports and of syntax newer than Node 18
 * (Debian 12's), so the message itself always gets out.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(__dirname, "..");

/** The lowest version `>=X.Y.Z` allows, as numbers; throws on any other form. */
export function minimumVersion(range: string): [number, number, number] {
  const m = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(range.trim());
  if (!m)
    throw new Error(`engines.node must have the form ">=X.Y.Z", got ${JSON.stringify(range)}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** True when `version` (e.g. "v20.20.2" or "22.19.0") is at least `min`. */
export function atLeast(version: string, min: readonly number[]): boolean {
  const have = version.replace(/^v/, "").split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const a = have[i] ?? 0;
    const b = min[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/** The project's package.json: its version (`vace --version`) and `engines.node`. */
export function projectPackage(root = ROOT): { version: string; engines: { node: string } } {
  return JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
}

/** The message for a Node.js that is too old, or undefined when `version` will do. */
export function nodeVersionProblem(
  version: string,
  execPath: string,
  root = ROOT,
): string | undefined {
  const range = projectPackage(root).engines.node;
  const min = minimumVersion(range);
  if (atLeast(version, min)) return undefined;
  const cached = join(root, ".ci/cache/node22/package/bin");
  const fetched = existsSync(join(cached, "node"))
    ? `Node 22 is already in ${cached} (bash .ci/run fetched it): put it first on PATH:`
    : "`bash .ci/run` fetches Node 22 into .ci/cache/node22; then put it first on PATH:";
  return [
    `vace needs Node.js ${min.join(".")} or newer (package.json engines.node "${range}"),`,
    `but this is Node.js ${version} (${execPath}).`,
    fetched,
    `  export PATH="${cached}:$PATH"`,
    "or install Node.js 22 LTS another way (nodejs.org, nvm install 22), then run `npm ci` again.",
  ].join("\n");
}

const problem = nodeVersionProblem(process.version, process.execPath);
if (problem !== undefined) {
  process.stderr.write(`${problem}\n`);
  // 2, as for any usage error (design.md contracts): nothing was checked or run.
  process.exit(2);
}
