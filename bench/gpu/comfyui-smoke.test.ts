/**
 * The GPU smoke script's dry mode (bench/gpu/comfyui_smoke.py, issue 15), run for real with python3,
 * git and caddy. The carried sources are absent here, so their checker is driven with small git
 * repositories made in the test: packed at a known commit they pass; a tarball changed after packing,
 * or one whose files differ from the pinned tree, fails with a message that says so.
 */
import { spawnSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../../test/binaries";

const SCRIPT = join(__dirname, "comfyui_smoke.py");
const NAMES = ["comfyui", "kjnodes", "vhs"] as const;

interface Check {
  check: string;
  ok: boolean;
  detail: unknown;
}
interface DryReport {
  ok: boolean;
  checks: Check[];
  plan: { step: string; cmd?: string[]; env?: Record<string, string> }[];
  workflow_classes: string[];
}

let python3: string;
let git: string;
let work: string;
/** One dry run with an empty carry folder, shared by the tests that only read its report. */
let empty: { code: number | null; report: DryReport };

beforeAll(() => {
  python3 = requireBinary("python3");
  git = requireBinary("git");
  requireBinary("caddy");
  work = mkdtempSync(join(tmpdir(), "gpu-smoke-"));
  empty = dry(join(work, "empty"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Hang guards, not performance bounds. `prep tools` bundles the whole vace CLI with esbuild and
 * xz-compresses the 7 MB bundle: about 7 s of CPU, whose xz step alone took 37 s of wall time while
 * two suites shared the 2 cores; the test around it took 70 s then (34 s when less loaded).
 */
const PY_GUARD_MS = 60_000;
const PREP_GUARD_MS = 240_000;

function py(args: string[], timeout = PY_GUARD_MS) {
  const r = spawnSync(python3, [SCRIPT, ...args], { encoding: "utf8", timeout });
  if (r.error) throw r.error;
  return r;
}

function dry(carry: string, pins?: string): { code: number | null; report: DryReport } {
  const r = py(["dry", "--carry", carry, ...(pins ? ["--pins", pins] : [])]);
  try {
    return { code: r.status, report: JSON.parse(r.stdout) as DryReport };
  } catch {
    throw new Error(`dry printed no JSON (exit ${r.status}): ${r.stderr}`);
  }
}

function byName(report: DryReport, name: string): Check {
  const c = report.checks.find((x) => x.check === name);
  if (!c) throw new Error(`no check '${name}' in ${report.checks.map((x) => x.check).join(", ")}`);
  return c;
}

/** A git repository with a plain file, an executable, a nested file and a symlink; returns its commit. */
function makeRepo(dir: string, seed: string): string {
  const g = (...a: string[]) => {
    const r = spawnSync(git, ["-C", dir, ...a], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`git ${a.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
  };
  mkdirSync(join(dir, "sub"), { recursive: true });
  g("init", "-q");
  writeFileSync(join(dir, "README.md"), `repo ${seed}\n`);
  writeFileSync(join(dir, "run.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
  writeFileSync(join(dir, "sub", "a.py"), `X = "${seed}"\n`);
  symlinkSync("sub/a.py", join(dir, "link.py"));
  g("add", "-A");
  g("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", `c ${seed}`);
  return g("rev-parse", "HEAD");
}

describe("comfyui_smoke.py dry", () => {
  it("with nothing carried, passes every check that needs no input and names each missing input with its prep command", () => {
    const { code, report } = empty;
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    for (const name of [
      "python syntax",
      "pins match docker/comfyui/Dockerfile",
      "workflow model files match docker/models.json",
      "model tensor specs reconcile with the real files' sizes",
      "umT5 tokenizer model",
      "gateway configuration",
    ]) {
      expect(byName(report, name), name).toMatchObject({ ok: true });
    }
    const sources = byName(report, "carried sources at the pinned commits");
    expect(sources.ok).toBe(false);
    for (const n of NAMES) {
      expect(sources.detail).toContain(`${n}.tar.gz or its manifest entry is missing`);
      expect(sources.detail).toContain(`prep sources --git ${n}=`);
    }
    const tools = byName(report, "carried tools");
    expect(tools.ok).toBe(false);
    expect(tools.detail).toContain("node (");
    expect(tools.detail).toContain("caddy (");
    expect(tools.detail).toContain("vace.cjs.xz (the vace CLI bundled for node) is missing");
    expect(tools.detail).toContain(
      "fp8-convert.cjs.xz (the image build's FP8 converter bundled for node) is missing",
    );
  });

  it("derives the diffusion model's exact data bytes and a real umT5-sized tokenizer", () => {
    const { report } = empty;
    const specs = byName(report, "model tensor specs reconcile with the real files' sizes")
      .detail as Record<string, string>;
    // 2,153,280,832 fp16 params + 691,200 fp32 patch-embedding params, as ComfyUI built them on a GPU
    // (bench/gpu/RESULTS.md); the real file is 193,336 bytes longer: an 8-byte-aligned header.
    expect(specs["wan21_vace_1_3_b.safetensors"]).toContain(
      "1264 tensors, 2153972032 params, 4309326464 data bytes",
    );
    expect(specs["wan21_vace_1_3_b.safetensors"]).toContain("193336 more bytes");
    expect(byName(report, "umT5 tokenizer model").detail).toContain("256384 pieces");
  });

  it("plans both profiles through the gateway with content checks off, and never puts the token in an argument", () => {
    const { report } = empty;
    const steps = Object.fromEntries(report.plan.map((s) => [s.step, s]));
    for (const p of ["ci", "full"]) {
      const cmd = steps[`smoke-${p}`]?.cmd ?? [];
      expect(cmd.slice(2, 10)).toEqual([
        "smoke",
        "--url",
        "http://127.0.0.1:18080",
        "--profile",
        p,
        "--content",
        "skip",
        "--out",
      ]);
      expect(steps[`verify-${p}`]?.cmd).toContain("--content");
    }
    expect(steps["verify-ci"]?.cmd?.join(" ")).toContain("--frames 9 --fps 16");
    expect(steps["verify-full"]?.cmd?.join(" ")).toContain("--frames 49 --fps 16");
    expect(steps.comfyui?.cmd?.join(" ")).toContain("--listen 127.0.0.1 --port 8188");
    expect(steps.gateway?.env).toMatchObject({ VACE_UPSTREAM: "127.0.0.1:8188", VACE_TLS: "off" });
    const argv = report.plan.flatMap((s) => s.cmd ?? []).join(" ");
    expect(argv).not.toMatch(/--token|[0-9a-f]{64}/);
    expect(report.workflow_classes).toContain("WanVaceToVideo");
    expect(report.workflow_classes).toContain("VHS_VideoCombine");
  });

  it("accepts sources packed at the pinned commits and rejects a tarball changed after packing or a wrong tree", () => {
    const carry = join(work, "carry");
    const pins: Record<string, string> = {};
    const gitArgs: string[] = [];
    for (const n of NAMES) {
      const dir = join(work, `repo-${n}`);
      pins[n] = makeRepo(dir, n);
      gitArgs.push("--git", `${n}=${join(dir, ".git")}`);
    }
    const pinsFile = join(work, "pins.json");
    writeFileSync(pinsFile, JSON.stringify(pins));
    const prep = py(["prep", "sources", "--carry", carry, "--pins", pinsFile, ...gitArgs]);
    expect(prep.status, prep.stderr).toBe(0);

    const good = byName(dry(carry, pinsFile).report, "carried sources at the pinned commits");
    expect(good.ok, String(good.detail)).toBe(true);
    expect(good.detail).toMatchObject({ vhs: { commit: pins.vhs, files: 4, omitted: [] } });

    // Another repository's commit where this one is pinned: the commit object no longer hashes to the pin.
    const wrongPins = join(work, "wrong-pins.json");
    writeFileSync(wrongPins, JSON.stringify({ ...pins, vhs: pins.kjnodes }));
    const wrong = byName(dry(carry, wrongPins).report, "carried sources at the pinned commits");
    expect(wrong.ok).toBe(false);
    expect(wrong.detail).toContain(
      `vhs: manifest says commit ${pins.vhs}, the pin is ${pins.kjnodes}`,
    );

    // A tarball swapped for another repository's (its sha256 fixed up in the manifest too): the files
    // hash to a different tree than the pinned commit's.
    const manifestPath = join(carry, "manifest.json");
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    writeFileSync(join(carry, "vhs.tar.gz"), readFileSync(join(carry, "kjnodes.tar.gz")));
    manifest.sources.vhs.sha256 = manifest.sources.kjnodes.sha256;
    writeFileSync(manifestPath, JSON.stringify(manifest));
    const swapped = byName(dry(carry, pinsFile).report, "carried sources at the pinned commits");
    expect(swapped.ok).toBe(false);
    expect(swapped.detail).toMatch(
      /vhs: vhs\.tar\.gz: its files hash to tree [0-9a-f]{40}, commit [0-9a-f]{12} has tree/,
    );

    // A byte appended after packing: the manifest's sha256 catches it.
    writeFileSync(
      join(carry, "kjnodes.tar.gz"),
      Buffer.concat([readFileSync(join(carry, "kjnodes.tar.gz")), Buffer.from([0])]),
    );
    const changed = byName(dry(carry, pinsFile).report, "carried sources at the pinned commits");
    expect(changed.detail).toContain("kjnodes: kjnodes.tar.gz: sha256 differs from the manifest");
  }, 120_000);

  it("unpacks a verified tarball with its modes and links, and refuses a member that would leave the folder", () => {
    const carry = join(work, "carry-x");
    const dir = join(work, "repo-x");
    const commit = makeRepo(dir, "x");
    const pinsFile = join(work, "pins-x.json");
    writeFileSync(pinsFile, JSON.stringify({ vhs: commit }));
    expect(
      py([
        "prep",
        "sources",
        "--carry",
        carry,
        "--pins",
        pinsFile,
        "--git",
        `vhs=${join(dir, ".git")}`,
      ]).status,
    ).toBe(0);
    const dest = join(work, "unpacked");
    const extract = (tar: string) =>
      spawnSync(
        python3,
        ["-c", "import sys, carry; carry.extract(sys.argv[1], sys.argv[2])", tar, dest],
        {
          cwd: __dirname,
          encoding: "utf8",
        },
      );
    expect(extract(join(carry, "vhs.tar.gz")).status).toBe(0);
    expect(readFileSync(join(dest, "sub", "a.py"), "utf8")).toBe('X = "x"\n');
    expect(statSync(join(dest, "run.sh")).mode & 0o111).not.toBe(0);
    expect(readlinkSync(join(dest, "link.py"))).toBe("sub/a.py");

    const evil = join(work, "evil.tar");
    const made = spawnSync(
      python3,
      [
        "-c",
        "import io, sys, tarfile\nwith tarfile.open(sys.argv[1], 'w') as t:\n  i = tarfile.TarInfo('../escaped'); i.size = 1; t.addfile(i, io.BytesIO(b'x'))",
        evil,
      ],
      { encoding: "utf8" },
    );
    expect(made.status, made.stderr).toBe(0);
    const refused = extract(evil);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain("../escaped: would be written outside");
  });

  it("carries tools with their versions and the vace CLI bundle, and notices a tool changed afterwards", {
    timeout: PREP_GUARD_MS + 2 * PY_GUARD_MS,
  }, () => {
    const carry = join(work, "carry-tools");
    const fake = (name: string, version: string) => {
      const path = join(work, `fake-${name}`);
      writeFileSync(path, `#!/bin/sh\necho '${version}'\n`, { mode: 0o755 });
      return path;
    };
    const r = py(
      [
        "prep",
        "tools",
        "--carry",
        carry,
        "--node",
        fake("node", "v22.99.0"),
        "--caddy",
        fake("caddy", "v2.6.2 h1:x"),
        "--ffmpeg",
        fake("ffmpeg", "ffmpeg version 9"),
      ],
      PREP_GUARD_MS,
    );
    expect(r.status, r.stderr).toBe(0);
    const tools = byName(dry(carry).report, "carried tools");
    expect(tools).toMatchObject({
      ok: true,
      detail: { node: "v22.99.0", caddy: "v2.6.2 h1:x", ffmpeg: "ffmpeg version 9" },
    });
    // The vace CLI, and the image build's FP8 converter: docker/models.json stores the diffusion model
    // converted, so the run converts its random file the same way.
    for (const bundle of ["vace.cjs.xz", "fp8-convert.cjs.xz"]) {
      expect((tools.detail as Record<string, string>)[bundle]).toMatch(
        /^bundled from commit [0-9a-f]{40}$/,
      );
    }
    writeFileSync(join(carry, "caddy.xz"), "changed");
    expect(byName(dry(carry).report, "carried tools").detail).toBe(
      "caddy.xz: sha256 differs from the manifest",
    );
  });

  it("has no undefined names or unused imports in the GPU scripts, whose GPU paths cannot run here", () => {
    const files = ["carry.py", "comfyui_smoke.py", "model_files.py", "fp8_load.py"].map((f) =>
      join(__dirname, f),
    );
    const r = spawnSync(requireBinary("pyflakes3"), files, { encoding: "utf8" });
    expect(`${r.stdout}${r.stderr}`).toBe("");
    expect(r.status).toBe(0);
  });

  it("refuses prep without --git, and a --git that names no pinned source", () => {
    expect(py(["prep", "sources", "--carry", join(work, "x")]).status).toBe(2);
    const r = py(["prep", "sources", "--carry", join(work, "x"), "--git", "comfy=/nowhere"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("expected NAME=DIR with NAME one of comfyui, kjnodes, vhs");
  });
});
