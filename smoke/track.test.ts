import { describe, expect, it } from "vitest";
import {
  applyMessage,
  describeState,
  initialTrackState,
  outcomeFromHistory,
  type TrackState,
} from "./track";

const P = "prompt-1";
const run = (...msgs: Array<[string, Record<string, unknown>]>): TrackState =>
  msgs.reduce((s, [type, data]) => applyMessage(s, { type, data }, P), initialTrackState());
const cls = (id: string) => ({ "24": "KSampler" })[id];

describe("applyMessage", () => {
  it("follows a run from start to the history write", () => {
    const s = run(
      ["status", { status: { exec_info: { queue_remaining: 1 } }, sid: "c" }],
      ["execution_start", { prompt_id: P }],
      ["executing", { node: "24", prompt_id: P }],
      ["progress", { node: "24", value: 3, max: 20, prompt_id: P }],
      ["execution_success", { prompt_id: P }],
    );
    expect(s).toMatchObject({
      started: true,
      lastNode: "24",
      outcome: { kind: "success" },
      historyWritten: false,
      queueRemaining: 1,
    });
    expect(
      applyMessage(s, { type: "executing", data: { node: null, prompt_id: P } }, P).historyWritten,
    ).toBe(true);
  });

  it("ignores other prompts' messages and the id-less reconnect executing:null", () => {
    const s = run(
      ["execution_error", { prompt_id: "other", node_id: "1" }],
      ["executing", { node: null }],
    );
    expect(s).toEqual(initialTrackState());
  });

  it("keeps execution_error's node, class and exception", () => {
    const s = run([
      "execution_error",
      {
        prompt_id: P,
        node_id: "24",
        node_type: "KSampler",
        exception_type: "torch.OutOfMemoryError",
        exception_message: "Allocation on device \n",
      },
    ]);
    expect(s.outcome).toEqual({
      kind: "error",
      nodeId: "24",
      nodeType: "KSampler",
      exceptionType: "torch.OutOfMemoryError",
      exceptionMessage: "Allocation on device",
    });
  });
  it("passes over progress_state and message types it does not know", () => {
    const s = run(["executing", { node: "24", prompt_id: P }]);
    const state = {
      prompt_id: P,
      nodes: { "24": { value: 3, max: 20, state: "running", node_id: "24", prompt_id: P } },
    };
    expect(applyMessage(s, { type: "progress_state", data: state }, P)).toBe(s);
    expect(applyMessage(s, { type: "feature_flags", data: { max_upload_size: 1 } }, P)).toBe(s);
  });
});

describe("outcomeFromHistory", () => {
  it("reads the last status message", () => {
    expect(
      outcomeFromHistory({
        status: {
          status_str: "success",
          messages: [
            ["execution_start", {}],
            ["execution_success", {}],
          ],
        },
      }),
    ).toEqual({ kind: "success" });
    expect(
      outcomeFromHistory({
        status: {
          status_str: "error",
          messages: [["execution_interrupted", { node_id: "31", node_type: "VAEDecode" }]],
        },
      }),
    ).toEqual({ kind: "interrupted", nodeId: "31", nodeType: "VAEDecode" });
    expect(outcomeFromHistory({ status: { status_str: "error", messages: [] } })).toMatchObject({
      kind: "error",
      exceptionMessage: "history status error, with no error message",
    });
  });
});

describe("describeState", () => {
  it("says where a run is stuck", () => {
    expect(describeState(initialTrackState(), cls)).toBe("the prompt never started");
    expect(
      describeState(run(["status", { status: { exec_info: { queue_remaining: 3 } } }]), cls),
    ).toContain("queue_remaining 3");
    expect(
      describeState(
        run(
          ["executing", { node: "24", prompt_id: P }],
          ["progress", { node: "24", value: 2, max: 4, prompt_id: P }],
        ),
        cls,
      ),
    ).toBe("the run stalled in node 24 (KSampler), step 2/4");
  });
});
