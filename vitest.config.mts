import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", "dist/**"],
    // Pulumi mocks keep global state: every test file gets its own process (see pulumi-testing-facts §1.11).
    pool: "forks",
    isolate: true,
    // Most tests wait on child processes (caddy, ffmpeg, python), so two workers help even on 2 cores.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The program's own config warnings (pulumi.log.warn prints "warning: [runtime] …") are expected
    // output under test, asserted where they matter (a spy); printing them on every run is noise.
    onConsoleLog: (log) => !log.startsWith("warning: [runtime] "),
  },
});
