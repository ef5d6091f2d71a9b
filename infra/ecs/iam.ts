/**
 * The instance's RAM role: what the machine itself may do at boot and when idle. Least privilege:
 * read its own secret parameter, and stop only itself.
 */

export function ecsTrustPolicy(): string {
  return JSON.stringify({
    Version: "1",
    Statement: [
      { Effect: "Allow", Action: "sts:AssumeRole", Principal: { Service: ["ecs.aliyuncs.com"] } },
    ],
  });
}

export interface InstancePolicyInputs {
  region: string;
  accountId: string;
  secretParameterName: string;
  instanceId: string;
}

export function instancePolicy(p: InstancePolicyInputs): string {
  const arn = (service: string, resource: string) =>
    `acs:${service}:${p.region}:${p.accountId}:${resource}`;
  return JSON.stringify({
    Version: "1",
    Statement: [
      {
        Effect: "Allow",
        Action: ["oos:GetSecretParameter"],
        Resource: [arn("oos", `secretparameter/${p.secretParameterName}`)],
      },
      {
        // An OOS encryption parameter is a KMS secret that OOS reads with the caller's identity:
        // GetSecretParameter's reference names kms:GetSecretValue as its only KMS requirement,
        // and OOS's own per-parameter access example grants just that. Secrets only: no
        // kms:Decrypt, no keys, aliases or certificates. OOS does not document the backing
        // secret's name, so it cannot be named here (docs/security.md: residual risk).
        Effect: "Allow",
        Action: ["kms:GetSecretValue"],
        Resource: [arn("kms", "secret/*")],
      },
      {
        // The idle watchdog stops this instance with StopCharging and confirms the result.
        Effect: "Allow",
        Action: ["ecs:StopInstance", "ecs:DescribeInstances"],
        Resource: [arn("ecs", `instance/${p.instanceId}`)],
      },
    ],
  });
}
