/** Durations in config are written like `45m`, `4h`, `2d` or `1h30m` (Pulumi config has no duration type). */
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$/;

/** Parses a duration into minutes; returns undefined for anything else, including an empty string. */
export function parseDurationMinutes(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m || text.trim() === "") return undefined;
  const [, d = "0", h = "0", min = "0"] = m;
  return Number(d) * 24 * 60 + Number(h) * 60 + Number(min);
}

export function formatMinutes(minutes: number): string {
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  return [d && `${d}d`, h && `${h}h`, m && `${m}m`].filter(Boolean).join("") || "0m";
}
