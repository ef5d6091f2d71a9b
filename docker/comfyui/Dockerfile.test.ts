/**
 * The ComfyUI image's Dockerfile, checked without Docker: it lints clean, every base image is
 * pinned by digest, every git checkout is a full commit, the models stage copies only what
 * `vace models fetch` needs and runs it (replayed here in a directory holding just those files),
 * the build context leaves secrets out, and the runtime is loopback-only and non-root. The
 * git-pin helper and the entry point are run for real.
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import dockerignore from "@balena/dockerignore";
import { DockerfileParser, type Instruction } from "dockerfile-ast";
import { validate } from "dockerfile-utils";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { loadManifest } from "../../cli/models/manifest";
import { requireBinary } from "../../test/binaries";
import { startModelServer } from "../../test/doubles/http/model-server";

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
/** COPY instructions that read the build context (not another stage): sources and destination. */
const contextCopies = (ins: Instruction[]) =>
  ins
    .filter((i) => i.getKeyword() === "COPY" && flag(i, "from") === undefined)
    .map((i) => {
      const args = i.getArguments().map((a) => a.getValue());
      return { instruction: i, sources: args.slice(0, -1), dest: args.at(-1) as string };
    });
const IGNORE = dockerignore().add(
  readFileSync(join(__dirname, "Dockerfile.dockerignore"), "utf8").split("\n"),
);
/** The files at a path of the repository (a file, or every file below a folder). */
const filesAt = (path: string): string[] =>
  statSync(join(ROOT, path)).isDirectory()
    ? readdirSync(join(ROOT, path), { recursive: true, withFileTypes: true })
        .filter((d) => d.isFile())
        .map((d) => relative(ROOT, join(d.parentPath, d.name)))
    : [path];

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
    // The FP8 conversion runs right after, on the same folder, in its own cached step.
    const steps = runs(stage("models").instructions);
    expect(steps.slice(-2)).toEqual([
      "npm run --silent vace -- models fetch --manifest docker/models.json --dir /models",
      "npm run --silent vace -- models fp8 --manifest docker/models.json --dir /models",
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

  it("runs ComfyUI as a non-root user through the entry point that fixes 127.0.0.1:8188, with a health check and ffmpeg", () => {
    const runtime = stage("runtime").instructions;
    const users = runtime
      .filter((i) => i.getKeyword() === "USER")
      .map((i) => i.getArgumentsContent());
    expect(users.at(-1)).toBe("comfy");
    const entry = JSON.parse(
      runtime.find((i) => i.getKeyword() === "ENTRYPOINT")?.getArgumentsContent() ?? "[]",
    );
    expect(entry).toEqual(["/usr/local/bin/comfyui-entrypoint"]);
    const installed = contextCopies(runtime).find((c) => c.dest === entry[0]);
    expect(installed?.sources).toEqual(["docker/comfyui/entrypoint.sh"]);
    // Root-owned (the default) and executable whatever mode the checkout gave the file.
    expect(flag(installed?.instruction as Instruction, "chmod")).toBe("0755");
    expect(runtime.some((i) => i.getKeyword() === "EXPOSE")).toBe(false);
    expect(runtime.find((i) => i.getKeyword() === "HEALTHCHECK")?.getArgumentsContent()).toContain(
      "http://127.0.0.1:8188/system_stats",
    );
    expect(runs(runtime).some((r) => /apt-get install .*\bffmpeg\b/.test(r))).toBe(true);
  });
});

describe("the models stage and the build context", () => {
  const models = stage("models").instructions;

  it("copies only what `vace models fetch` needs, never the whole context", () => {
    const copies = contextCopies(models);
    for (const c of copies) {
      for (const src of c.sources) {
        // `.`, `./`, `cli/`, `docker/`… would bring docker/.env, out/ or unrelated code.
        expect(src, `COPY ${src}`).not.toMatch(/^(\.\/?|\*|cli\/?|docker\/?)$/);
      }
    }
    expect(copies.flatMap((c) => c.sources)).toContain("docker/models.json");
    // The contract's command line, with the `vace` script pointed at the models-only entry.
    expect(runs(models)).toContain('npm pkg set scripts.vace="tsx cli/models/main.ts"');
  });

  it("keeps secrets, outputs, caches and unrelated code out of the context, and every COPY source in", () => {
    for (const path of [
      ".env",
      "docker/.env",
      "docker/gateway/.env",
      "cli/models/.env",
      ".env.local",
      "out/smoke/report.json",
      ".ci/cache/npm/_cacache/index",
      ".git/config",
      "node_modules/undici/index.js",
      "infra/ecs/deployment.ts",
      "smoke/run.ts",
      "cli/index.ts",
      "cli/render.ts",
      "cli/models/fetch.test.ts",
      "cli/models/x.safetensors.partial",
      "docs/image.md",
      "docker/compose.yaml",
      "docker/comfyui/Dockerfile",
    ]) {
      expect(IGNORE.ignores(path), path).toBe(true);
    }
    for (const { sources } of contextCopies(dockerfile.getInstructions())) {
      for (const src of sources) {
        const files = filesAt(src).filter((f) => !f.endsWith(".test.ts"));
        expect(files.length, `${src} holds files`).toBeGreaterThan(0);
        for (const f of files) expect(IGNORE.ignores(f), f).toBe(false);
      }
    }
  });

  it("runs contract 5's command from exactly the stage's files (replayed against a 404 server)", async () => {
    const work = mkdtempSync(join(tmpdir(), "vace-models-stage-"));
    const server = await startModelServer({});
    try {
      // The stage's COPYs, as Docker applies them to the filtered context.
      for (const { sources, dest } of contextCopies(models)) {
        for (const src of sources) {
          const from = join(ROOT, src);
          const to = statSync(from).isDirectory()
            ? join(work, dest)
            : join(work, dest.endsWith("/") ? join(dest, basename(src)) : dest);
          cpSync(from, to, {
            recursive: true,
            filter: (p) => p === from || !IGNORE.ignores(relative(ROOT, p)),
          });
        }
      }
      symlinkSync(join(ROOT, "node_modules"), join(work, "node_modules"));
      mkdirSync(join(work, "models"));
      const sh = (cmd: string) =>
        promisify(execFile)("sh", ["-c", cmd], { cwd: work, timeout: 20_000 }).then(
          (r) => ({ code: 0, ...r }),
          (e: { code: number; stdout: string; stderr: string }) => e,
        );
      const setScript = runs(models).find((r) => r.startsWith("npm pkg set "));
      expect((await sh(setScript as string)).code).toBe(0);

      const fetch = runs(models).find((r) => r.includes("models fetch")) as string;
      const run = await sh(
        `${fetch.replace("--dir /models", "--dir models")} --base-url ${server.url} --retries 0`,
      );
      const manifest = await loadManifest(join(work, "docker/models.json"));
      // Every file reaches the network and fails cleanly: the fetcher loaded and ran.
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toContain(
        `vace: ${manifest.models.length} of ${manifest.models.length} model(s) failed`,
      );
      for (const m of manifest.models) {
        expect(run.stderr).toContain(
          `${m.folder}/${m.name}: not fetched (expected sha256 ${m.sha256}`,
        );
      }
      expect(run.stderr).toContain(": HTTP 404");
      expect(run.stdout).toBe("");
    } finally {
      await server.close();
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe("entrypoint.sh", () => {
  const script = join(__dirname, "entrypoint.sh");
  const work = mkdtempSync(join(tmpdir(), "vace-entrypoint-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  // `python` on PATH is a real argparse with ComfyUI's definitions of the options that matter
  // (comfy/cli_args.py at the pinned commit), printing what ComfyUI would run with.
  const python3 = requireBinary("python3");
  mkdirSync(join(work, "bin"));
  writeFileSync(
    join(work, "probe.py"),
    [
      "import argparse, json",
      "p = argparse.ArgumentParser()",
      'p.add_argument("script")',
      'p.add_argument("--listen", type=str, default="127.0.0.1", nargs="?", const="0.0.0.0,::")',
      'p.add_argument("--port", type=int, default=8188)',
      'p.add_argument("--enable-cors-header", type=str, default=None, nargs="?", const="*")',
      'p.add_argument("--extra-model-paths-config", type=str, nargs="+", action="append")',
      'p.add_argument("--disable-auto-launch", action="store_true")',
      'p.add_argument("--lowvram", action="store_true")',
      'p.add_argument("--preview-method", type=str, default="none")',
      "print(json.dumps(vars(p.parse_args())))",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(work, "bin", "python"),
    `#!/bin/sh\nexec ${python3} ${join(work, "probe.py")} "$@"\n`,
    { mode: 0o755 },
  );
  const entry = (...args: string[]) =>
    spawnSync("sh", [script, ...args], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${join(work, "bin")}:${process.env.PATH}` },
    });

  it("is clean under shellcheck", () => {
    const r = spawnSync(requireBinary("shellcheck"), [script], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("runs main.py with the user's arguments, on 127.0.0.1:8188, with the image's model paths", () => {
    const r = entry("--lowvram", "--preview-method", "auto");
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      script: "main.py",
      listen: "127.0.0.1",
      port: 8188,
      enable_cors_header: null,
      extra_model_paths_config: [["/opt/models/extra_model_paths.yaml"]],
      disable_auto_launch: true,
      lowvram: true,
      preview_method: "auto",
    });
  });

  it("refuses --listen, --port and --enable-cors-header in every spelling argparse accepts", () => {
    for (const args of [
      ["--listen"],
      ["--listen", "0.0.0.0"],
      ["--listen=0.0.0.0"],
      ["--lis", "0.0.0.0"],
      ["--l=::"],
      ["--lowvram", "--port", "80"],
      ["--port=80"],
      ["--po", "80"],
      ["--enable-cors-header"],
      ["--enable-cors-header=*"],
      ["--enable-cors=https://evil.example"],
    ]) {
      const r = entry(...args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stdout, "ComfyUI must not start").toBe("");
      expect(r.stderr).toContain("is not allowed: ComfyUI must listen on 127.0.0.1:8188 only");
    }
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
