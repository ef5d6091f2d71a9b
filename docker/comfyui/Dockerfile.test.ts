/**
 * The ComfyUI image's Dockerfile, checked without Docker: it lints clean, every base image is
 * pinned by digest, every git checkout is a full commit, the models stage runs the tested
 * `vace models fetch`, and the runtime is loopback-only and non-root. The git-pin helper is run
 * for real against a local repository.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DockerfileParser, type Instruction } from "dockerfile-ast";
import { validate } from "dockerfile-utils";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { loadManifest } from "../../cli/models/manifest";
import { requireBinary } from "../../test/binaries";

const ROOT = resolve(__dirname, "../..");
const TEXT = readFileSync(join(__dirname, "Dockerfile"), "utf8");
const dockerfile = DockerfileParser.parse(TEXT);
const FULL_SHA = /^[0-9a-f]{40}$/;

const stages = dockerfile.getFROMs().map((f, i) => ({
  name: f.getBuildStage(),
  from: f,
  instructions: dockerfile.getInstructions().filter((ins) => {
    const start = f.getRange().start.line;
    const next = dockerfile.getFROMs()[i + 1]?.getRange().start.line ?? Number.POSITIVE_INFINITY;
    const line = ins.getRange().start.line;
    return line > start && line < next;
  }),
}));
const stage = (name: string) => {
  const s = stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage ${name} in the Dockerfile`);
  return s;
};
const runs = (ins: Instruction[]) =>
  ins
    .filter((i) => i.getKeyword() === "RUN")
    .map((i) => (i.getArgumentsContent() ?? "").replace(/\\\n/g, " "));
const flag = (ins: Instruction, name: string) =>
  (ins as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] })
    .getFlags()
    .find((f) => f.getName() === name)
    ?.getValue();

describe("docker/comfyui/Dockerfile", () => {
  it("parses and lints clean with dockerfile-utils", () => {
    expect(stages.map((s) => s.name)).toEqual(["models", "sources", "runtime"]);
    expect(validate(TEXT)).toEqual([]);
  });

  it("pins every base image by sha256 digest (never a tag alone, never latest)", () => {
    const earlier = new Set<string>();
    for (const { from, name } of stages) {
      const image = from.getImage() ?? "";
      if (!earlier.has(image)) {
        expect(from.getImageDigest(), image).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(from.getImageTag(), image).not.toBe("latest");
      }
      if (name) earlier.add(name);
    }
  });

  it("checks out ComfyUI, KJNodes and VideoHelperSuite at full commits, through git-pin only", () => {
    const args = new Map(
      dockerfile.getARGs().map((a) => [a.getProperty()?.getName(), a.getProperty()?.getValue()]),
    );
    const pins = runs(stage("sources").instructions)
      .join(" && ")
      .split("&&")
      .map((c) => c.trim().match(/^git-pin (\S+) "\$(\w+)" (\S+)$/))
      .filter((m) => m !== null)
      .map(([, url, arg, dest]) => ({ url, commit: args.get(arg), dest }));

    expect(pins.map((p) => p.url)).toEqual([
      "https://github.com/Comfy-Org/ComfyUI.git",
      "https://github.com/kijai/ComfyUI-KJNodes.git",
      "https://github.com/Kosinkadink/ComfyUI-VideoHelperSuite.git",
    ]);
    for (const p of pins) expect(p.commit, p.url).toMatch(FULL_SHA);
    for (const [name, value] of args)
      if (name?.endsWith("_COMMIT")) expect(value, name).toMatch(FULL_SHA);
    // No other way to get code from git: no clone, no checkout of a name, no pip install git+.
    for (const cmd of runs(dockerfile.getInstructions())) {
      expect(cmd).not.toMatch(/git (clone|checkout|fetch)|git\+|github\.com\/.*\/archive/);
    }
    expect(dockerfile.getInstructions().filter((i) => i.getKeyword() === "ADD")).toEqual([]);
  });

  it("fetches the models with `vace models fetch` and docker/models.json, and ships exactly those folders", async () => {
    const fetches = runs(stage("models").instructions).filter((r) => r.includes("models fetch"));
    expect(fetches).toEqual([
      "npm run --silent vace -- models fetch --manifest docker/models.json --dir /models",
    ]);
    const folders = [
      ...new Set(
        (await loadManifest(join(ROOT, "docker/models.json"))).models.map((m) => m.folder),
      ),
    ];
    const copied = stage("runtime")
      .instructions.filter((i) => i.getKeyword() === "COPY" && flag(i, "from") === "models")
      .map((i) => i.getArguments().map((a) => a.getValue()));
    expect(copied).toEqual(folders.map((f) => [`/models/${f}`, `/opt/models/${f}`]));
    const paths = parseYaml(readFileSync(join(__dirname, "extra_model_paths.yaml"), "utf8"));
    expect(paths).toEqual({
      wan_vace: { base_path: "/opt/models", ...Object.fromEntries(folders.map((f) => [f, f])) },
    });
  });

  it("runs ComfyUI as a non-root user on 127.0.0.1:8188 only, with a health check and ffmpeg", () => {
    const runtime = stage("runtime").instructions;
    const users = runtime
      .filter((i) => i.getKeyword() === "USER")
      .map((i) => i.getArgumentsContent());
    expect(users.at(-1)).toBe("comfy");
    const entry = JSON.parse(
      runtime.find((i) => i.getKeyword() === "ENTRYPOINT")?.getArgumentsContent() ?? "[]",
    );
    expect(entry.slice(0, 6)).toEqual([
      "python",
      "main.py",
      "--listen",
      "127.0.0.1",
      "--port",
      "8188",
    ]);
    expect(entry).toContain("/opt/models/extra_model_paths.yaml");
    expect(runtime.some((i) => i.getKeyword() === "EXPOSE")).toBe(false);
    expect(runtime.find((i) => i.getKeyword() === "HEALTHCHECK")?.getArgumentsContent()).toContain(
      "http://127.0.0.1:8188/system_stats",
    );
    expect(runs(runtime).some((r) => /apt-get install .*\bffmpeg\b/.test(r))).toBe(true);
  });
});

describe("git-pin.sh", () => {
  const script = join(__dirname, "git-pin.sh");
  const work = mkdtempSync(join(tmpdir(), "vace-git-pin-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const git = (...a: string[]) =>
    execFileSync(
      "git",
      ["-C", join(work, "src"), "-c", "user.name=t", "-c", "user.email=t@t", ...a],
      {
        encoding: "utf8",
      },
    ).trim();
  const pin = (commit: string, dest: string) =>
    spawnSync("sh", [script, `file://${join(work, "src")}`, commit, join(work, dest)], {
      encoding: "utf8",
    });

  it("is clean under shellcheck", () => {
    const r = spawnSync(requireBinary("shellcheck"), [script], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("puts exactly the pinned commit's tree in place, without .git; refuses names and short shas", () => {
    requireBinary("git");
    execFileSync("git", ["init", "-q", join(work, "src")]);
    execFileSync("sh", ["-c", `echo one > "${join(work, "src", "f")}"`]);
    git("add", "f");
    git("commit", "-q", "-m", "one");
    const first = git("rev-parse", "HEAD");
    execFileSync("sh", ["-c", `echo two > "${join(work, "src", "f")}"`]);
    git("commit", "-q", "-am", "two");

    const ok = pin(first, "out");
    expect(ok.status, ok.stderr).toBe(0);
    expect(readFileSync(join(work, "out", "f"), "utf8")).toBe("one\n");
    expect(readdirSync(join(work, "out"))).toEqual(["f"]);

    for (const ref of ["master", first.slice(0, 12), first.toUpperCase()]) {
      const bad = pin(ref, `bad-${ref}`);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain(`'${ref}'`);
      expect(bad.stderr).toContain("is not a full 40-hex commit sha");
    }
  });
});
