/**
 * ensure-image.sh, run by real sh with a stand-in docker on PATH that knows one present image and
 * records every call: a present digest is not pulled (a baked host image boots with no pull), a
 * different digest and any tag are.
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FILES } from "./fake-cloud";

const dir = mkdtempSync(join(tmpdir(), "vace-ensure-image-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PRESENT = `registry-vpc.cn-hongkong.aliyuncs.com/wan-vace/comfyui@sha256:${"a".repeat(64)}`;
writeFileSync(
  join(dir, "docker"),
  [
    "#!/bin/sh",
    `echo "$*" >>"${dir}/calls"`,
    `[ "$1 $2" = "image inspect" ] && [ "$3" = "${PRESENT}" ] && exit 0`,
    '[ "$1" = image ] && exit 1',
    "exit 0",
    "",
  ].join("\n"),
);
chmodSync(join(dir, "docker"), 0o755);

function ensure(
  ref: string,
): Promise<{ code: number; stdout: string; calls: string[]; recorded: string }> {
  writeFileSync(join(dir, "calls"), "");
  rmSync(join(dir, "status"), { recursive: true, force: true });
  return new Promise((done) => {
    execFile(
      "sh",
      [join(FILES, "ensure-image.sh"), ref],
      { env: { PATH: `${dir}:${process.env.PATH}`, WAN_VACE_STATUS_DIR: join(dir, "status") } },
      (err, stdout) => {
        const calls = readFileSync(join(dir, "calls"), "utf8").trim().split("\n").filter(Boolean);
        const recorded = readFileSync(join(dir, "status", "images.log"), "utf8");
        done({ code: err ? Number(err.code) : 0, stdout, calls, recorded });
      },
    );
  });
}

describe("ensure-image.sh", () => {
  it("does not pull a digest-pinned image that is present, and says so", async () => {
    const r = await ensure(PRESENT);
    expect(r.code).toBe(0);
    expect(r.calls).toEqual([`image inspect ${PRESENT}`]);
    expect(r.stdout).toContain("is present; not pulled");
    expect(r.recorded).toBe(`present ${PRESENT}\n`);
  });

  it("pulls a digest that differs (docker then fetches only the layers it lacks)", async () => {
    const other = PRESENT.replace(/a{64}$/, "b".repeat(64));
    const r = await ensure(other);
    expect(r.calls).toEqual([`image inspect ${other}`, `pull ${other}`]);
    // Recorded before the pull: the timeline never sees the image before the decision.
    expect(r.recorded).toBe(`pulled ${other}\n`);
  });

  it("always pulls a tag, which may have moved", async () => {
    const tag = "registry-vpc.cn-hongkong.aliyuncs.com/wan-vace/gateway:0.1.0";
    expect((await ensure(tag)).calls).toEqual([`pull ${tag}`]);
  });
});
