/**
 * The deployer's RAM policy: every API action `pulumi up`, `preview`, `refresh` and `destroy` of
 * an ECS stack calls, derived from the resource types and lookups the program uses. Each entry was
 * read from the resource's or data source's Create/Read/Update/Delete in
 * aliyun/terraform-provider-alicloud (81c43b67), limited to the arguments this program sets; the
 * KMS actions behind OOS secret parameters are the ones OOS's API reference names (CreateSecret,
 * GetSecretValue, "UpdateSecretValue" = PutSecretValue/UpdateSecret, DeleteSecret).
 * `docs/deployer-policy.json` is this document; a test keeps the two equal and checks that every
 * type and lookup the program uses has an entry.
 */

/** Pulumi type or invoke token → the RAM actions its lifecycle calls. */
export const ACTIONS_BY_TYPE: Record<string, readonly string[]> = {
  // resource_alicloud_vpc.go
  "alicloud:vpc/network:Network": [
    "vpc:CreateVpc",
    "vpc:DescribeVpcAttribute",
    "vpc:DescribeRouteTableList",
    "vpc:ModifyVpcAttribute",
    "vpc:DeleteVpc",
    "vpc:TagResources",
    "vpc:UntagResources",
  ],
  // resource_alicloud_vswitch.go
  "alicloud:vpc/switch:Switch": [
    "vpc:CreateVSwitch",
    "vpc:DescribeVSwitchAttributes",
    "vpc:ModifyVSwitchAttribute",
    "vpc:DeleteVSwitch",
    "vpc:TagResources",
    "vpc:UntagResources",
  ],
  // resource_alicloud_security_group.go
  "alicloud:ecs/securityGroup:SecurityGroup": [
    "ecs:CreateSecurityGroup",
    "ecs:DescribeSecurityGroupAttribute",
    "ecs:DescribeSecurityGroups",
    "ecs:ModifySecurityGroupAttribute",
    "ecs:ModifySecurityGroupPolicy",
    "ecs:DeleteSecurityGroup",
    "ecs:TagResources",
    "ecs:UntagResources",
  ],
  // resource_alicloud_security_group_rule.go
  "alicloud:ecs/securityGroupRule:SecurityGroupRule": [
    "ecs:AuthorizeSecurityGroup",
    "ecs:DescribeSecurityGroupAttribute",
    "ecs:ModifySecurityGroupRule",
    "ecs:RevokeSecurityGroup",
  ],
  // resource_alicloud_eip_address.go (EIP's RAM code is vpc)
  "alicloud:ecs/eipAddress:EipAddress": [
    "vpc:AllocateEipAddress",
    "vpc:DescribeEipAddresses",
    "vpc:DescribeHighDefinitionMonitorLogAttribute",
    "vpc:ModifyEipAddressAttribute",
    "vpc:ReleaseEipAddress",
    "vpc:TagResources",
    "vpc:UntagResources",
  ],
  // resource_alicloud_eip_association.go
  "alicloud:ecs/eipAssociation:EipAssociation": [
    "vpc:AssociateEipAddress",
    "vpc:DescribeEipAddresses",
    "vpc:UnassociateEipAddress",
  ],
  // resource_alicloud_ecs_ram_role_attachment.go; attaching a role to an instance passes it.
  "alicloud:ecs/ramRoleAttachment:RamRoleAttachment": [
    "ecs:AttachInstanceRamRole",
    "ecs:DescribeInstanceRamRole",
    "ecs:DetachInstanceRamRole",
    "ram:PassRole",
  ],
  // resource_alicloud_instance.go: create, read, the in-place updates this program can cause
  // (release time, tags, host name, key pair, metadata options, a vSwitch move), delete.
  "alicloud:ecs/instance:Instance": [
    "ecs:RunInstances",
    "ecs:DescribeInstances",
    "ecs:DescribeInstanceAttribute",
    "ecs:DescribeUserData",
    "ecs:DescribeDisks",
    "ecs:DescribeNetworkInterfaces",
    "ecs:DescribeInstanceRamRole",
    "ecs:DescribeInstanceMaintenanceAttributes",
    "ecs:DescribeInstanceAttachmentAttributes",
    "ecs:DescribeAvailableResource",
    "ecs:DescribeInstanceTypes",
    "vpc:DescribeVSwitchAttributes",
    "ecs:ModifyInstanceAutoReleaseTime",
    "ecs:ModifyInstanceAttribute",
    "ecs:ModifyInstanceMetadataOptions",
    "ecs:ModifyInstanceVpcAttribute",
    "ecs:AttachKeyPair",
    "ecs:DetachKeyPair",
    "ecs:StopInstance",
    "ecs:StartInstance",
    "ecs:DeleteInstance",
    "ecs:TagResources",
    "ecs:UntagResources",
  ],
  // resource_alicloud_image.go (vace bake): CreateImage, DescribeImages (also DescribeImageComponents
  // and DescribeImagePipelineExecutions are not called for an instance's image), ModifyImageAttribute
  // for name or description, tags. No DeleteImage: the image is retainOnDelete (infra/bake).
  "alicloud:ecs/image:Image": [
    "ecs:CreateImage",
    "ecs:DescribeImages",
    "ecs:ModifyImageAttribute",
    "ecs:TagResources",
    "ecs:UntagResources",
  ],
  // resource_alicloud_oos_secret_parameter.go; an encryption parameter is a KMS secret.
  "alicloud:oos/secretParameter:SecretParameter": [
    "oos:CreateSecretParameter",
    "oos:GetSecretParameter",
    "oos:UpdateSecretParameter",
    "oos:DeleteSecretParameter",
    "oos:ListTagResources",
    "oos:TagResources",
    "oos:UntagResources",
    "kms:CreateSecret",
    "kms:GetSecretValue",
    "kms:PutSecretValue",
    "kms:UpdateSecret",
    "kms:DeleteSecret",
  ],
  // resource_alicloud_ram_role.go (force: detaches its policies before delete)
  "alicloud:ram/role:Role": [
    "ram:CreateRole",
    "ram:GetRole",
    "ram:UpdateRole",
    "ram:DeleteRole",
    "ram:ListPoliciesForRole",
    "ram:DetachPolicyFromRole",
    "ram:ListTagResources",
    "ram:TagResources",
    "ram:UntagResources",
  ],
  // resource_alicloud_ram_policy.go (versions, rotation, force delete)
  "alicloud:ram/policy:Policy": [
    "ram:CreatePolicy",
    "ram:GetPolicy",
    "ram:CreatePolicyVersion",
    "ram:ListPolicyVersions",
    "ram:DeletePolicyVersion",
    "ram:UpdatePolicyDescription",
    "ram:ListEntitiesForPolicy",
    "ram:DetachPolicyFromRole",
    "ram:DeletePolicy",
    "ram:ListTagResources",
    "ram:TagResources",
    "ram:UntagResources",
  ],
  // resource_alicloud_ram_role_policy_attachment.go
  "alicloud:ram/rolePolicyAttachment:RolePolicyAttachment": [
    "ram:AttachPolicyToRole",
    "ram:ListPoliciesForRole",
    "ram:DetachPolicyFromRole",
  ],
  // Local providers: no cloud API.
  "pulumi:providers:alicloud": [],
  "pulumi:providers:random": [],
  "pulumi:providers:tls": [],
  "random:index/randomString:RandomString": [],
  "random:index/randomPassword:RandomPassword": [],
  "tls:index/privateKey:PrivateKey": [],
  "tls:index/selfSignedCert:SelfSignedCert": [],
  "wan-vace:ecs:EcsDeployment": [],
  "wan-vace:bake:BakeBuilder": [],
  // Lookups. data_source_alicloud_instance_types.go (prices come from bss only with
  // priceLookup: true, which then also needs bss:DescribePrice).
  "alicloud:ecs/getInstanceTypes:getInstanceTypes": [
    "ecs:DescribeInstanceTypes",
    "ecs:DescribeAvailableResource",
  ],
  // data_source_alicloud_images.go: DescribeImages, then DescribeTags for each image's tags.
  "alicloud:ecs/getImages:getImages": ["ecs:DescribeImages", "ecs:DescribeTags"],
  // data_source_alicloud_instances.go
  "alicloud:ecs/getInstances:getInstances": [
    "ecs:DescribeInstances",
    "ecs:DescribeDisks",
    "ecs:DescribeInstanceRamRole",
  ],
  // STS GetCallerIdentity needs no permission.
  "alicloud:index/getCallerIdentity:getCallerIdentity": [],
};

/** The policy document: one Allow statement with every action, sorted. */
export function deployerPolicy(): { Version: "1"; Statement: unknown[] } {
  const actions = [...new Set(Object.values(ACTIONS_BY_TYPE).flat())].sort();
  return {
    Version: "1",
    Statement: [{ Effect: "Allow", Action: actions, Resource: "*" }],
  };
}
