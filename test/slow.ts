/**
 * Options for tests that start real processes (npm, tsx, ffmpeg) or run whole renders. With a second
 * suite on a loaded 2-core machine one such test can take 20 s or more, past vitest's 30 s default
 * once several run in a row; the limit is only there to catch a hang, never to measure speed.
 */
export const SLOW = { timeout: 180_000 } as const;
