/**
 * ECS `autoReleaseTime` rules (alicloud-facts §1, ModifyInstanceAutoReleaseTime): ISO 8601 UTC
 * `yyyy-MM-ddTHH:mm:ssZ`, at least 30 minutes and less than 3 years ahead. The cloud enforces the
 * release even if CI dies, which is why every deployment carries one.
 */
export const MIN_TTL_MINUTES = 30;
/**
 * Three calendar years are at least 1095 days. The release time is ttl + the deploy allowance
 * ahead, so the largest ttl leaves room for the allowance under that.
 */
export const MAX_TTL_MINUTES = 1095 * 24 * 60 - 1 - 10 - 2;

/**
 * The program computes the release time when `pulumi up` starts, but the instance is created
 * minutes later (VPC, vSwitch, role first). The allowance keeps a 30-minute TTL above the API's
 * 30-minute floor at the moment the instance is created.
 */
export const DEPLOY_ALLOWANCE_MINUTES = 10; // MAX_TTL_MINUTES subtracts this too, and 2 for rounding

/** Formats a Date the way ECS wants it: second precision, no milliseconds, `Z`. */
export function formatReleaseTime(at: Date): string {
  return `${at.toISOString().slice(0, 19)}Z`;
}

/** When an instance whose deploy started at `now` is released. Throws when the TTL is out of bounds. */
export function autoReleaseTime(now: Date, ttlMinutes: number): string {
  if (
    !Number.isInteger(ttlMinutes) ||
    ttlMinutes < MIN_TTL_MINUTES ||
    ttlMinutes > MAX_TTL_MINUTES
  ) {
    throw new RangeError(
      `ttl must be between ${MIN_TTL_MINUTES} minutes and 3 years, got ${ttlMinutes} minutes`,
    );
  }
  // Round up (never under the 30-minute floor) to a whole minute whose last digit is not 0.
  const ms = now.getTime() + (ttlMinutes + DEPLOY_ALLOWANCE_MINUTES) * 60_000;
  let minute = Math.ceil(ms / 60_000);
  if (minute % 10 === 0) minute += 1;
  return formatReleaseTime(new Date(minute * 60_000));
}

/*
 * Why whole minutes not ending in 0: the provider suppresses an `auto_release_time` diff when
 * `strings.HasPrefix(new, strings.Trim(old, ":00Z"))` (terraform-provider-alicloud
 * resource_alicloud_instance.go, `auto_release_time` DiffSuppressFunc). Trim cuts the characters
 * `:`, `0` and `Z` from both ends, not the suffix, and Read stores `…THH:MM:00Z`. An old value at
 * `…T10:00:00Z` trims to `…T1` and hides every new time from 10:00 to 19:59: the extension never
 * reaches the cloud. When the minute's last digit is not 0, the old value trims to exactly
 * `yyyy-MM-ddTHH:MM`, so only a new value in that same minute is (rightly) treated as unchanged.
 */
