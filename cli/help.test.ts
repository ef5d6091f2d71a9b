/** Issue 12 item 3: the top-level help promises only commands that exist, and `--version` works. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { buildProgram, runCli } from "./index";
import { projectPackage } from "./node-version";

async function vace(args: string[]) {
  let stdout = "";
  vi.spyOn(process.stdout, "write").mockImplementation((c) => {
    stdout += String(c);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  const code = await runCli(["node", "vace", ...args]);
  vi.restoreAllMocks();
  return { code, stdout };
}

afterEach(() => vi.restoreAllMocks());

describe("vace --help and --version", () => {
  it("names no verb in its description that has no command (it once promised `deploy`)", () => {
    const program = buildProgram();
    const commands = program.commands.map((c) => c.name());
    // Text in backticks names other tools (`pulumi up`); the rest describes vace itself.
    const own = program.description().replace(/`[^`]*`/g, "");
    for (const verb of ["deploy", "destroy", "up", "down", "status", "reap", "e2e", "run"]) {
      if (new RegExp(`\\b${verb}\\b`, "i").test(own)) expect(commands, verb).toContain(verb);
    }
    expect(program.description()).toContain("`pulumi up`");
  });

  it("prints the package version for --version and -V", async () => {
    const { version } = projectPackage();
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    for (const flag of ["--version", "-V"]) {
      const r = await vace([flag]);
      expect(r.code, flag).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });
});
