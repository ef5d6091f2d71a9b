import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

/** 48 characters of A-Z a-z 0-9: ~285 bits, and safe in headers, URLs and gateway matchers. */
export const GENERATED_TOKEN_LENGTH = 48;

/**
 * The endpoint's bearer token: the configured secret, or one generated at first deploy and kept
 * stable in state afterwards. Either way it only ever travels as a Pulumi secret.
 */
export function endpointToken(
  name: string,
  configured: string | undefined,
  opts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
  if (configured !== undefined) return pulumi.secret(configured);
  const generated = new random.RandomPassword(
    `${name}-token`,
    { length: GENERATED_TOKEN_LENGTH, special: false, minLower: 4, minUpper: 4, minNumeric: 4 },
    opts,
  );
  return pulumi.secret(generated.result);
}
