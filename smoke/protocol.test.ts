/**
 * The smoke against what the pinned ComfyUI sends beyond the plain JSON messages: binary frames
 * (ImageResizeKJv2's progress text always, latent previews when ComfyUI runs with a preview method),
 * `progress_state`, and a 200 `/prompt` answer that carries node_errors.
 */
import { randomUUID } from "node:crypto";
import { FormData } from "undici";
import { describe, expect, it } from "vitest";
import { smallWorkflow, TEST_TOKEN, useSmokeHarness } from "../test/doubles/comfyui/harness";
import { SmokeError } from "./errors";
import { ComfyHttp } from "./http";
import { submitPrompt } from "./run";
import { NODE } from "./workflow";

const { double, smoke } = useSmokeHarness("vace-smoke-protocol-");

describe("vace smoke and ComfyUI's other socket traffic", () => {
  it("follows the run over the socket while binary frames and progress_state arrive", async () => {
    const d = await double({ previews: true });
    const lines: string[] = [];
    const r = await smoke(d, { log: (l) => lines.push(l) });
    expect(r.error).toBeNull();
    expect(r.tracking).toBe("websocket");
    // The frames really reached the smoke's socket: text to every socket, previews to its client id.
    expect(d.received.binaryFrames).toContainEqual({ event: 3, to: "*" });
    expect(d.received.binaryFrames).toContainEqual({ event: 1, to: r.clientId });
    // Progress still read from `progress`, not lost among the progress_state messages.
    expect(lines).toContain(`  running node ${NODE.sampler} (KSampler), step 4/4`);
  });
});

describe("POST /prompt answering 200 with node_errors", () => {
  it("is a check failure naming the dropped output and its error, and the prompt is cancelled", async () => {
    const d = await double({ stallAt: NODE.sampler });
    const http = new ComfyHttp({ url: d.url, token: TEST_TOKEN });
    try {
      const form = new FormData();
      form.set("image", new Blob([new Uint8Array([1, 2, 3])]), "ref.png");
      await http.json("upload/image", { phase: "upload", method: "POST", form });
      // The smoke's workflow has one output; a second one that fails validation is the only way
      // ComfyUI answers 200 with node_errors (execution.py validate_prompt keeps the good outputs).
      const wf = smallWorkflow("ref.png");
      const extra = structuredClone(wf[NODE.video]);
      if (!extra) throw new Error("the workflow has no video node");
      extra.inputs.format = "video/gifski";
      const err = await submitPrompt(
        http,
        { ...wf, "33": extra },
        randomUUID(),
        AbortSignal.timeout(5_000),
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SmokeError);
      expect(err).toMatchObject({ kind: "check", phase: "queueWait" });
      const promptId = d.received.prompts[0]?.promptId;
      expect((err as Error).message).toContain(
        `ComfyUI queued prompt ${promptId} without output node 33, which failed validation`,
      );
      expect((err as Error).message).toContain(
        "node 33 (VHS_VideoCombine): Value not in list: format: 'video/gifski' not in [",
      );
      expect((err as Error).message).toContain("GET /object_info/<class>");
      // It had started (and stalled in the sampler): the interrupt stopped it.
      expect(d.received.interrupts).toEqual([promptId]);
    } finally {
      await http.close();
    }
  });
});
