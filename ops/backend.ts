/**
 * State that outlives a CI runner: Pulumi's DIY backend on Alibaba OSS through its S3-compatible
 * API. Pulumi reads PULUMI_BACKEND_URL before the project's `backend.url` (file://~ in Pulumi.yaml),
 * so CI sets that variable and local use keeps the file backend.
 *
 * The URL form: s3://<bucket>[/<prefix>]?endpoint=https://s3.oss-<region>[-internal].aliyuncs.com&region=<region>
 * - OSS accepts only virtual-hosted-style requests, which is the S3 client's default (no use_path_style).
 * - Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY set to a RAM AccessKey with OSS access.
 */

export interface OssBackend {
  bucket: string;
  region: string;
  /** A folder inside the bucket, e.g. "wan-vace/ci". */
  prefix?: string;
  /** The VPC-internal endpoint (a runner inside the region's VPC). */
  internal?: boolean;
}

/** Every problem with the inputs, each naming its flag. */
export function ossBackendProblems(b: OssBackend): string[] {
  const problems: string[] = [];
  if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(b.bucket)) {
    problems.push(
      `--bucket ${JSON.stringify(b.bucket)}: OSS bucket names are 3-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit`,
    );
  }
  if (!/^[a-z]{2,}(?:-[a-z0-9]+)+$/.test(b.region)) {
    problems.push(`--region ${JSON.stringify(b.region)}: expected a region id like ap-southeast-1`);
  }
  if (b.prefix !== undefined && !/^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/.test(b.prefix)) {
    problems.push(
      `--prefix ${JSON.stringify(b.prefix)}: folder names of A-Z a-z 0-9 . _ - separated by single slashes, no leading or trailing slash`,
    );
  }
  return problems;
}

export function ossEndpoint(region: string, internal = false): string {
  return `https://s3.oss-${region}${internal ? "-internal" : ""}.aliyuncs.com`;
}

/** The PULUMI_BACKEND_URL for a bucket; throws with every problem when the inputs are invalid. */
export function ossBackendUrl(b: OssBackend): string {
  const problems = ossBackendProblems(b);
  if (problems.length) throw new Error(problems.join("\n"));
  const query = new URLSearchParams({
    endpoint: ossEndpoint(b.region, b.internal),
    region: b.region,
  });
  return `s3://${b.bucket}${b.prefix ? `/${b.prefix}` : ""}?${query}`;
}
