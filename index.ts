/**
 * wan-vace Pulumi program: validate config once, then build the chosen target (or, in a
 * `<stack>-bake` stack made by `vace bake`, the bake's builder and image: infra/bake).
 * `vace render` runs this same file under mocks, so keep it free of side effects besides resources.
 */
import * as alicloud from "@pulumi/alicloud";
import * as pulumi from "@pulumi/pulumi";
import { AcsDeployment } from "./infra/acs";
import { BakeBuilder } from "./infra/bake";
import type { Endpoint } from "./infra/common/endpoint";
import { stackNameIssues } from "./infra/common/naming";
import { autoReleaseTime } from "./infra/common/ttl";
import { ConfigError, loadConfig } from "./infra/config";
import { EcsDeployment } from "./infra/ecs";

const { config, warnings } = loadConfig(pulumi.runtime.allConfig());
for (const w of warnings) pulumi.log.warn(`${w.key}: ${w.message}`);

const stack = pulumi.getStack();
// The stack name is a tag value on every resource: fail before anything is created.
const stackIssues = stackNameIssues(stack);
if (stackIssues.length > 0) throw new ConfigError(stackIssues);
/** Computed once per `pulumi up`: every deploy extends the release to now + ttl. */
const now = new Date();
const expiresAtValue = autoReleaseTime(now, config.ttlMinutes);
const provider = new alicloud.Provider("alicloud", { region: config.region });
const args = { config, stack, expiresAt: expiresAtValue };
const opts = { providers: { alicloud: provider } };
const bake = config.bake ? new BakeBuilder("vace", { config, stack, now }, opts) : undefined;
const ecs = !bake && config.target === "ecs" ? new EcsDeployment("vace", args, opts) : undefined;
const acs = !bake && config.target === "acs" ? new AcsDeployment("vace", args, opts) : undefined;
const deployment = (ecs ?? acs) as Endpoint | undefined;

export const target = config.target;
export const url = deployment?.url;
export const token = deployment?.token;
export const certificateSha256 = deployment?.certificateSha256;
export const caCertificate = deployment?.caCertificate;
export const publicIp = deployment?.publicIp;
export const expiresAt = bake ? bake.expiresAt : expiresAtValue;
// ECS only.
export const instanceId = ecs?.instanceId;
export const zone = ecs?.zone;
export const instanceType = ecs?.instanceType;
export const hourlyPrice = ecs?.hourlyPrice;
// ACS only.
export const clusterId = acs?.clusterId;
export const namespace = acs?.namespace;
export const replicas = acs?.replicas;
export const wakeCommand = acs?.wakeCommand;
// `vace bake` only (BAKE-CONTRACT.md).
export const bakeStage = config.bake?.stage;
export const builderInstanceId = bake?.builderInstanceId;
export const imageId = bake?.imageId;
