/**
 * End to end: the smoke against the ComfyUI protocol double, which renders real H.264 MP4s with ffmpeg.
 * One run per failure mode, each checked for its contract-4 exit code and a message naming what broke.
 */
import { execFile } from "node:child_process";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { XMLParser } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { planSmoke, writeReports } from "../cli/smoke";
import { captureCli } from "../test/cli";
import { TEST_TOKEN as TOKEN, useSmokeHarness } from "../test/doubles/comfyui/harness";
import { LOOPBACK_CERT } from "../test/doubles/comfyui/server";
import { NODE } from "./workflow";

const run = promisify(execFile);
const { dir, double, smoke } = useSmokeHarness("vace-smoke-test-");

describe("vace smoke against the ComfyUI double", () => {
  it("passes the full profile: 480×480, 49 frames, the seed's settings, verified", async () => {
    const d = await double();
    const r = await smoke(d, { profile: "full" });
    expect(r.error).toBeNull();
    expect(r.exitCode).toBe(0);
    expect(r.verification).toMatchObject({
      ok: true,
      width: 480,
      height: 480,
      frames: 49,
      fps: 16,
    });
    expect(r.verification?.codec).toMatch(/^avc1/);
    const sent = d.received.prompts[0]?.prompt;
    expect(sent?.[NODE.sampler]?.inputs).toMatchObject({ steps: 20, cfg: 4 });
    // The reference image reaches WanVaceToVideo, under the name the server gave it.
    expect(sent?.[NODE.vace]?.inputs.reference_image).toEqual([NODE.resize, 0]);
    expect(sent?.[NODE.image]?.inputs.image).toBe(d.received.uploads[0]?.name);
    expect(r.tracking).toBe("websocket");
    expect(Object.keys(r.timings)).toEqual([
      "ready",
      "preflight",
      "upload",
      "queueWait",
      "execution",
      "download",
      "verify",
    ]);
    expect(r.server).toMatchObject({ comfyuiVersion: "0.3.64", pytorchVersion: "2.8.0+cu128" });
    expect(r.server?.gpu).toContain("protocol double");
    expect(r.content).toEqual({ mode: "auto", ran: true, skipped: null });
    expect(r.verification?.checks.map((c) => c.name)).toContain("content.not_frozen");
    expect(r.transientErrors).toBe(0);
  });

  it("sends a fresh client_id and seed each run, so ComfyUI's cache cannot replay one", async () => {
    const d = await double();
    const [a, b] = [await smoke(d), await smoke(d)];
    expect(a.exitCode + b.exitCode).toBe(0);
    expect(a.clientId).not.toBe(b.clientId);
    expect(a.params.seed).not.toBe(b.params.seed);
    expect(d.received.prompts.map((p) => p.clientId)).toEqual([a.clientId, b.clientId]);
  });

  it("survives the history race: /history empty right after execution_success", async () => {
    const d = await double({ historyDelayMs: 300 });
    const r = await smoke(d);
    expect(r.error).toBeNull();
    expect(r.historyRetries).toBeGreaterThan(0);
    expect(d.received.emptyHistoryAfterSuccess).toBe(r.historyRetries);
  });

  it("falls back to polling /history when no socket is used", async () => {
    const d = await double();
    const r = await smoke(d, { useSocket: false });
    expect(r.error).toBeNull();
    expect(r.tracking).toBe("polling");
    expect(d.received.sockets).toHaveLength(0);
  });

  it("fails preflight on a missing node class, naming the package, before queueing anything", async () => {
    const d = await double({ missingClasses: ["ImageResizeKJv2", "VHS_VideoCombine"] });
    const r = await smoke(d);
    expect(r.exitCode).toBe(1);
    expect(r.error?.phase).toBe("preflight");
    expect(r.error?.message).toContain(
      "node class ImageResizeKJv2 (workflow node 22) is not installed",
    );
    expect(r.error?.message).toContain("ComfyUI-KJNodes");
    expect(r.error?.message).toContain("ComfyUI-VideoHelperSuite");
    expect(d.received.prompts).toHaveLength(0);
  });

  it("fails preflight on a missing model file, naming its folder and source", async () => {
    const d = await double({ missingModels: ["wan21_vace_vae.safetensors"] });
    const r = await smoke(d);
    expect(r.exitCode).toBe(1);
    expect(r.error?.message).toMatch(
      /model file wan21_vace_vae\.safetensors is missing from models\/vae/,
    );
    expect(r.error?.message).toContain("split_files/vae/wan_2.1_vae.safetensors");
    expect(d.received.prompts).toHaveLength(0);
  });

  it("reports a validation 400 with ComfyUI's node errors", async () => {
    const d = await double({ loseUploads: true });
    const r = await smoke(d);
    expect(r.exitCode).toBe(1);
    expect(r.error?.phase).toBe("queueWait");
    expect(r.error?.message).toContain("prompt_outputs_failed_validation");
    expect(r.error?.message).toContain(
      "node 18 (LoadImage): Custom validation failed for node: image - Invalid image file",
    );
  });

  it("surfaces execution_error mid-run with node id, class and exception", async () => {
    const d = await double({
      failAt: {
        node: NODE.sampler,
        exceptionType: "torch.OutOfMemoryError",
        message: "Allocation on device",
      },
    });
    const r = await smoke(d);
    expect(r.exitCode).toBe(1);
    expect(r.error).toMatchObject({ phase: "execution", kind: "execution" });
    expect(r.error?.message).toBe(
      "ComfyUI execution_error in node 24 (KSampler): torch.OutOfMemoryError: Allocation on device",
    );
  });

  it("times out a stalled run, says where it stalled, and interrupts it", async () => {
    const d = await double({ stallAt: NODE.decode });
    const r = await smoke(d, { phaseTimeoutsMs: { execution: 1_000 } });
    expect(r.exitCode).toBe(4);
    expect(r.error).toMatchObject({ phase: "execution", kind: "timeout" });
    expect(r.error?.message).toBe(
      "execution timed out after 1.0 s: the run stalled in node 31 (VAEDecode)",
    );
    expect(d.received.interrupts).toEqual([r.promptId]);
  });

  it.each([
    ["resolution", { width: 832 }, /width: expected 480, got 832/],
    ["codec", { codec: "hevc" as const }, /codec: expected "H\.264 \(avc1 or avc3\)", got "hev1/],
    ["frame count", { frames: 5 }, /frames: expected 9, got 5/],
  ])("fails verification when the server returns the wrong %s", async (_, output, message) => {
    const d = await double({ output });
    const r = await smoke(d);
    expect(r.exitCode).toBe(1);
    expect(r.error?.phase).toBe("verify");
    expect(r.error?.message).toMatch(message);
    expect(r.video?.bytes).toBeGreaterThan(0);
  });

  it("exits 4 when the server is down", async () => {
    const d = await double();
    await d.close();
    const r = await smoke(d, { phaseTimeoutsMs: { ready: 600 } });
    expect(r.exitCode).toBe(4);
    expect(r.error?.phase).toBe("ready");
    expect(r.error?.message).toMatch(
      /ready timed out after 0\.6 s: cannot reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    );
  });

  it("pins the gateway certificate with --ca (and explains a TLS failure without it)", async () => {
    const d = await double({}, true);
    const pinned = await smoke(d, { ca: await readFile(LOOPBACK_CERT, "utf8") });
    expect(pinned.error).toBeNull();
    const unpinned = await smoke(d, { phaseTimeoutsMs: { ready: 300 } });
    expect(unpinned.exitCode).toBe(4);
    expect(unpinned.error?.message).toMatch(
      /TLS to 127\.0\.0\.1:\d+ failed \(DEPTH_ZERO_SELF_SIGNED_CERT\).*--ca FILE/,
    );
  });
});

describe("vace smoke CLI (contract 4)", () => {
  /** Runs `vace smoke …` in-process; returns the exit code and everything it printed. */
  const cli = (args: string[], env: Record<string, string | undefined> = {}) =>
    captureCli(["smoke", ...args], env);

  it("passes ci with a Chinese prompt as UTF-8 end to end, writes report.json and valid JUnit", async () => {
    const d = await double({ token: TOKEN });
    const out = join(dir(), "cli-ci");
    // A folder that does not exist yet: the CLI creates it before the run.
    const junit = join(dir(), "cli-ci-reports", "ci", "junit.xml");
    const prompt = "一个女孩偷偷咬了一口苹果, 阳光明媚";
    const { code, printed } = await cli(
      ["--url", d.url, "--profile", "ci", "--out", out, "--junit", junit, "--prompt", prompt],
      { VACE_TOKEN: TOKEN },
    );
    expect(printed).toContain(
      "profile ci: 480×480, 9 frames → 3 latent + 1 reference = 4 latent frames × 4 steps × 1 pass (cfg 1) = sampling cost 16 (full costs 35× ci)",
    );
    expect(printed).not.toContain("profile full:");
    expect(code).toBe(0);
    expect(d.received.prompts[0]?.prompt[NODE.positive]?.inputs.text).toBe(prompt);
    const report = JSON.parse(await readFile(join(out, "report.json"), "utf8"));
    expect(report).toMatchObject({ ok: true, exitCode: 0, profile: "ci", params: { prompt } });
    await expect(readFile(join(out, report.video.filename))).resolves.toHaveProperty(
      "length",
      report.video.bytes,
    );
    // The token rode on every request (Bearer) and on the socket (header and ?token=), but was never printed.
    const gated = d.received.requests.filter((q) => q.path !== "/healthz");
    expect(gated.length).toBeGreaterThan(5);
    expect(gated.every((q) => q.bearer)).toBe(true);
    expect(d.received.sockets).toEqual([
      expect.objectContaining({ bearer: true, tokenQuery: true }),
    ]);
    expect(printed).not.toContain(TOKEN);
    expect(JSON.stringify(report)).not.toContain(TOKEN);
    const suite = new XMLParser({ ignoreAttributes: false }).parse(await readFile(junit, "utf8"))
      .testsuites.testsuite;
    expect(suite).toMatchObject({
      "@_name": "vace smoke (ci)",
      "@_failures": "0",
      "@_errors": "0",
      "@_skipped": "0",
    });
    expect(Number(suite["@_tests"])).toBe(7 + report.verification.checks.length);
  });

  it("runs as `npm run --silent vace -- smoke` with the token from VACE_TOKEN, exit code 0", async () => {
    const d = await double({ token: TOKEN });
    const r = await run(
      "npm",
      ["run", "--silent", "vace", "--", "smoke", "--url", d.url, "--out", join(dir(), "npm")],
      {
        env: { ...process.env, VACE_TOKEN: TOKEN },
      },
    );
    expect(r.stdout).toMatch(/smoke passed: .*VACE_video_00001\.mp4 verified/);
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
  });

  it("exits 3 when the gateway rejects the token, without printing it", async () => {
    const d = await double({ token: TOKEN });
    const { code, printed } = await cli([
      "--url",
      d.url,
      "--token",
      "wrong-token-value",
      "--out",
      join(dir(), "cli-401"),
    ]);
    expect(code).toBe(3);
    expect(printed).toContain(
      "vace: smoke failed in ready: the gateway rejected the token (HTTP 401 on GET /system_stats)",
    );
    expect(printed).not.toContain("wrong-token-value");
  });

  it("exits 2 before any traffic when --out is a file, or --junit a folder", async () => {
    const d = await double({ token: TOKEN });
    const file = join(dir(), "not-a-folder");
    await writeFile(file, "x");
    const asOut = await cli(["--url", d.url, "--out", file], { VACE_TOKEN: TOKEN });
    expect(asOut.code).toBe(2);
    expect(asOut.printed).toContain(
      `vace: --out: cannot create ${file}: ${file} is a file, not a folder`,
    );
    const asJunit = await cli(["--url", d.url, "--out", join(dir(), "o"), "--junit", dir()], {
      VACE_TOKEN: TOKEN,
    });
    expect(asJunit.code).toBe(2);
    expect(asJunit.printed).toContain(`vace: --junit ${dir()} is a folder`);
    expect(d.received.requests).toHaveLength(0);
  });

  it("exits 2 at once for an --out it cannot create, with the real cause (it hung under /proc)", async () => {
    const d = await double({ token: TOKEN });
    const proc = await cli(["--url", d.url, "--out", "/proc/wan-vace-nope/out"], {
      VACE_TOKEN: TOKEN,
    });
    expect(proc.code).toBe(2);
    expect(proc.printed).toContain(
      "vace: --out: cannot create /proc/wan-vace-nope/out: /proc does not accept new folders (ENOENT)",
    );
    const under = join(dir(), "plain-file");
    await writeFile(under, "x");
    const below = await cli(["--url", d.url, "--junit", join(under, "r", "junit.xml")], {
      VACE_TOKEN: TOKEN,
    });
    expect(below.code).toBe(2);
    expect(below.printed).toContain(
      `vace: --junit: cannot create ${join(under, "r")}: ${under} is a file, not a folder`,
    );
    expect(d.received.requests).toHaveLength(0);
  });

  it("exits 2 on --content require when ffmpeg is not on PATH", async () => {
    const { code, printed } = await cli(["--url", "http://x", "--content", "require"], {
      VACE_TOKEN: "t",
      PATH: dir(),
    });
    expect(code).toBe(2);
    expect(printed).toContain("vace: --content require: content checks need ffmpeg");
  });

  it("defaults: readiness may take 30 minutes, and --timeout covers that plus the run", async () => {
    const plan = async (extra: Partial<Parameters<typeof planSmoke>[0]>) =>
      (
        await planSmoke(
          {
            url: "https://x",
            profile: "ci",
            out: join(dir(), "plan"),
            content: "auto",
            ...extra,
          },
          "t",
        )
      ).options;
    expect(await plan({})).toMatchObject({
      timeoutMs: 2_700_000,
      phaseTimeoutsMs: { ready: 1_800_000 },
      content: "auto",
    });
    expect((await plan({ profile: "full" })).timeoutMs).toBe(4_800_000);
    expect(await plan({ timeout: "3000", readyTimeout: "2400" })).toMatchObject({
      timeoutMs: 3_000_000,
      phaseTimeoutsMs: { ready: 2_400_000 },
    });
  });

  it("writing the reports never throws: a failure is a warning, and the other report is still written", async () => {
    const blocker = join(dir(), "blocker");
    await writeFile(blocker, "x");
    const outDir = join(dir(), "reports-ok");
    await mkdir(outDir);
    const down = await double();
    await down.close();
    const report = await smoke(down, { phaseTimeoutsMs: { ready: 50 } });
    const warnings = await writeReports(
      report,
      { outDir, junit: join(blocker, "junit.xml") },
      TOKEN,
    );
    expect(warnings).toEqual([
      `could not write ${blocker}/junit.xml: cannot create ${blocker}: ${blocker} is a file, not a folder`,
    ]);
    expect((await stat(join(outDir, "report.json"))).size).toBeGreaterThan(0);
  });

  it.each([
    [["--url", "http://127.0.0.1:9"], {}, "no token: set VACE_TOKEN"],
    [["--url", "ftp://x"], { VACE_TOKEN: "t" }, "--url must be an http:// or https:// URL"],
    [
      ["--url", "http://x", "--timeout", "0"],
      { VACE_TOKEN: "t" },
      "--timeout must be a positive number",
    ],
    [
      ["--url", "http://x", "--prompt", " "],
      { VACE_TOKEN: "t" },
      'prompt (got " "): must not be empty',
    ],
    [
      ["--url", "http://x", "--ca", "/nonexistent.pem"],
      { VACE_TOKEN: "t" },
      "cannot read --ca /nonexistent.pem",
    ],
    [
      ["--url", "http://x", "--profile", "huge"],
      { VACE_TOKEN: "t" },
      "Allowed choices are ci, full",
    ],
    [
      ["--url", "http://x", "--ready-timeout", "soon"],
      { VACE_TOKEN: "t" },
      '--ready-timeout must be a positive number of seconds, got "soon"',
    ],
    [
      ["--url", "http://x", "--timeout", "600", "--ready-timeout", "900"],
      { VACE_TOKEN: "t" },
      "--ready-timeout 900 is longer than --timeout 600",
    ],
    [
      ["--url", "http://x", "--content", "maybe"],
      { VACE_TOKEN: "t" },
      "Allowed choices are auto, require, skip",
    ],
  ])("exits 2 on bad usage: %j", async (args, env, message) => {
    const { code, printed } = await cli(args, { VACE_TOKEN: undefined, ...env });
    expect(code).toBe(2);
    expect(printed).toContain(message);
  });
});
