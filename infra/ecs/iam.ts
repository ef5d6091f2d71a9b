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
        // GetSecretParameter decrypts through KMS on the caller's behalf (ecs-boot-facts §1).
        Effect: "Allow",
        Action: ["oos:GetSecretParameter"],
        Resource: [arn("oos", `secretparameter/${p.secretParameterName}`)],
      },
      {
        Effect: "Allow",
        Action: ["kms:GetSecretValue", "kms:Decrypt"],
        Resource: [arn("kms", "*")],
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
