/** Test-only: the `vace` CLI in-process, with its output captured and the environment restored. */
import { vi } from "vitest";
import { runCli } from "../cli/index";

/** Runs `vace <args…>`; returns the exit code and everything it printed (stdout and stderr). */
export async function captureCli(args: string[], env: Record<string, string | undefined> = {}) {
  let printed = "";
  const capture = (chunk: string | Uint8Array) => {
    printed += String(chunk);
    return true;
  };
  const out = vi.spyOn(process.stdout, "write").mockImplementation(capture);
  const err = vi.spyOn(process.stderr, "write").mockImplementation(capture);
  const saved = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    const code = await runCli(["node", "vace", ...args]);
    return { code, printed };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.env = saved;
  }
}
