/** Issue 12 item 2: paths a user types resolve in the folder they ran `npm run vace` in. */
import { describe, expect, it } from "vitest";
import { userDir, userPath } from "./run";

describe("userPath", () => {
  it("resolves against npm's INIT_CWD when npm runs the vace script", () => {
    const env = { npm_lifecycle_event: "vace", INIT_CWD: "/home/me/clips" };
    expect(userDir(env)).toBe("/home/me/clips");
    expect(userPath("../clip.mp4", env)).toBe("/home/me/clip.mp4");
    expect(userPath("/abs/clip.mp4", env)).toBe("/abs/clip.mp4");
  });

  it("ignores an INIT_CWD inherited from another npm script (a test run), and works without npm", () => {
    expect(userDir({ npm_lifecycle_event: "test", INIT_CWD: "/elsewhere" })).toBe(process.cwd());
    expect(userDir({})).toBe(process.cwd());
    expect(userPath("out/smoke", {})).toBe(`${process.cwd()}/out/smoke`);
  });
});
