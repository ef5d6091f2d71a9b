/** Test-only: a fresh loopback fake of the Alibaba APIs (./server) for each test of a file. */
import { afterEach, beforeEach } from "vitest";
import { type FakeCloud, startFakeCloud } from "./server";

/** Returns the current test's fake cloud. */
export function useFakeCloud(): () => FakeCloud {
  let cloud: FakeCloud | undefined;
  beforeEach(async () => {
    cloud = await startFakeCloud();
  });
  afterEach(async () => {
    await cloud?.close();
    cloud = undefined;
  });
  return () => {
    if (!cloud) throw new Error("useFakeCloud: no fake cloud outside a test");
    return cloud;
  };
}
