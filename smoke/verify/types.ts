/** What the caller asks for; every field is optional and only given fields are checked. */
export interface VideoExpectation {
  width?: number;
  height?: number;
  frames?: number;
  fps?: number;
  durationS?: number;
}

/** One named check; `expected` and `actual` are JSON values a person can read. */
export interface VerifyCheck {
  name: string;
  ok: boolean;
  expected: unknown;
  actual: unknown;
}

/** The verdict: design.md contract 3's JSON object. */
export interface VerifyResult {
  ok: boolean;
  codec: string | null;
  width: number | null;
  height: number | null;
  frames: number | null;
  fps: number | null;
  durationS: number | null;
  checks: VerifyCheck[];
}
