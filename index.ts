/**
 * wan-vace Pulumi program: validate config once, then build the chosen target.
 * `vace render` runs this same file under mocks, so keep it free of side effects besides resources.
 */
import * as alicloud from "@pulumi/alicloud";
import * as pulumi from "@pulumi/pulumi";
import { stackNameIssues } from "./infra/common/naming";
import { autoReleaseTime } from "./infra/common/ttl";
import { assertTargetBuilt, ConfigError, loadConfig } from "./infra/config";
import { EcsDeployment } from "./infra/ecs";

const { config, warnings } = loadConfig(pulumi.runtime.allConfig());
for (const w of warnings) pulumi.log.warn(`${w.key}: ${w.message}`);

assertTargetBuilt(config);

const stack = pulumi.getStack();
// The stack name is a tag value on every resource: fail before anything is created.
const stackIssues = stackNameIssues(stack);
if (stackIssues.length > 0) throw new ConfigError(stackIssues);
/** Computed once per `pulumi up`: every deploy extends the release to now + ttl. */
const expiresAtValue = autoReleaseTime(new Date(), config.ttlMinutes);
const provider = new alicloud.Provider("alicloud", { region: config.region });
const deployment = new EcsDeployment(
  "vace",
  { config, stack, expiresAt: expiresAtValue },
  { providers: { alicloud: provider } },
);

export const target = config.target;
export const url = deployment.url;
export const token = deployment.token;
export const certificateSha256 = deployment.certificateSha256;
export const caCertificate = deployment.caCertificate;
export const instanceId = deployment.instanceId;
export const zone = deployment.zone;
export const instanceType = deployment.instanceType;
export const hourlyPrice = deployment.hourlyPrice;
export const publicIp = deployment.publicIp;
export const expiresAt = expiresAtValue;
