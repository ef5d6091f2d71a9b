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

function ensure(ref: string): Promise<{ code: number; stdout: string; calls: string[] }> {
  writeFileSync(join(dir, "calls"), "");
  return new Promise((done) => {
    execFile(
      "sh",
      [join(FILES, "ensure-image.sh"), ref],
      { env: { PATH: `${dir}:${process.env.PATH}` } },
      (err, stdout) => {
        const calls = readFileSync(join(dir, "calls"), "utf8").trim().split("\n").filter(Boolean);
        done({ code: err ? Number(err.code) : 0, stdout, calls });
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
  });

  it("pulls a digest that differs (docker then fetches only the layers it lacks)", async () => {
    const other = PRESENT.replace(/a{64}$/, "b".repeat(64));
    expect((await ensure(other)).calls).toEqual([`image inspect ${other}`, `pull ${other}`]);
  });

  it("always pulls a tag, which may have moved", async () => {
    const tag = "registry-vpc.cn-hongkong.aliyuncs.com/wan-vace/gateway:0.1.0";
    expect((await ensure(tag)).calls).toEqual([`pull ${tag}`]);
  });
});
