/**
 * `vace render` of a stack that boots a baked image (wan-vace:bakedImageId): offline, the image's
 * look-up is answered as if it held what the config asks for, so render shows the instance on
 * that image with baked-mode user-data and warns only of what a boot would really pull (a
 * tag-only reference). One render: it loads the program once.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { stringify } from "yaml";
import { DIGEST_A, REPO } from "../../test/bake";
import { type RenderResult, renderStack } from "./render";

const ROOT = join(__dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "vace-render-baked-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let r: RenderResult;
const warned: string[] = [];
beforeAll(async () => {
  const configFile = join(dir, "Pulumi.dev.yaml");
  writeFileSync(
    configFile,
    stringify({
      config: {
        "wan-vace:image": `${REPO}/comfyui:0.1.0@${DIGEST_A}`,
        "wan-vace:gatewayImage": `${REPO}/gateway:0.1.0`,
        "wan-vace:bakedImageId": "m-t4n0baked0001",
      },
    }),
  );
  const warn = vi.spyOn(console, "warn").mockImplementation((...a: unknown[]) => {
    warned.push(a.join(" "));
  });
  try {
    r = await renderStack({ stack: "dev", configFile, root: ROOT });
  } finally {
    warn.mockRestore();
  }
}, 60_000);

describe("render with wan-vace:bakedImageId", () => {
  it("boots the instance from the baked image, in baked mode", () => {
    const instance = r.resources.find((x) => x.type === "alicloud:ecs/instance:Instance");
    expect(instance?.inputs.imageId).toBe("m-t4n0baked0001");
    expect(r.userData).toContain("HOST_MODE='baked'");
    expect(r.placeholders.join("\n")).toContain("wan-vace:bakedImageId: render assumes");
  });

  it("warns only of the image the boot would pull: the one pinned by tag", () => {
    expect(warned.filter((w) => w.includes("bakedImageId") || w.includes("the boot"))).toEqual([
      expect.stringContaining(`wan-vace:gatewayImage ${REPO}/gateway:0.1.0 is pinned by tag only`),
    ]);
  });
});
