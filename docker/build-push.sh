#!/usr/bin/env bash
# Build both wan-vace images and push them to Alibaba Container Registry (docs/image.md):
#   <registry>/<namespace>/comfyui:<tag>   docker/comfyui/Dockerfile, context = repository root
#   <registry>/<namespace>/gateway:<tag>   docker/gateway/Dockerfile, context = docker/gateway
#
# Usage: ACR_REGISTRY=<host> ACR_NAMESPACE=<namespace> docker/build-push.sh [--dry-run] [--no-push]
#   ACR_REGISTRY       e.g. registry.cn-hangzhou.aliyuncs.com or crpi-xxxx.cn-hangzhou.personal.cr.aliyuncs.com
#   ACR_NAMESPACE      the ACR namespace, e.g. wan-vace
#   TAG                image tag (default: the commit, refused when the work tree has changes)
#   COMFYUI_REPO / GATEWAY_REPO   repository names (default comfyui / gateway)
#   --no-push          build into the local image store only (docker images), e.g. for compose
#   --dry-run          print the commands, run nothing
# Log in first (the password is read from stdin, never from arguments):
#   docker login --username=<ACR user> --password-stdin "$ACR_REGISTRY"
# Needs Docker with buildx, ~40 GB free disk, and network access to Hugging Face or ModelScope.
# Prints each pushed image as <ref>@<digest>: put that in the stack config to pin the deployment.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  printf 'build-push: %s\n' "$*" >&2
  exit 2
}

push=1
dry=0
for arg in "$@"; do
  case $arg in
  --no-push) push=0 ;;
  --dry-run) dry=1 ;;
  *) die "unknown argument '$arg' (usage: docker/build-push.sh [--dry-run] [--no-push])" ;;
  esac
done

registry=${ACR_REGISTRY:-}
namespace=${ACR_NAMESPACE:-}
[[ -n $registry ]] || die "set ACR_REGISTRY to your ACR host, e.g. registry.cn-hangzhou.aliyuncs.com"
[[ $registry =~ ^[a-z0-9.-]+(:[0-9]+)?$ ]] || die "ACR_REGISTRY '$registry' is not a registry host (no scheme, no path)"
[[ -n $namespace ]] || die "set ACR_NAMESPACE to your ACR namespace, e.g. wan-vace"
[[ $namespace =~ ^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$ ]] || die "ACR_NAMESPACE '$namespace' must be lowercase letters, digits, '.', '_' or '-'"

revision=$(git rev-parse HEAD)
dirty=$(git status --porcelain)
if [[ -z ${TAG:-} ]]; then
  # An image tagged with a commit must be built from exactly that commit.
  [[ -z $dirty ]] || die "the work tree has uncommitted changes; commit them or set TAG explicitly"
  TAG=$revision
fi
# The image's revision label must not claim a commit the build does not match.
[[ -z $dirty ]] || revision+="-dirty"
[[ $TAG =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "TAG '$TAG' is not a valid image tag"

comfyui="$registry/$namespace/${COMFYUI_REPO:-comfyui}:$TAG"
gateway="$registry/$namespace/${GATEWAY_REPO:-gateway}:$TAG"
output=(--load)
((push)) && output=(--push)
metadata=$(mktemp -d)
trap 'rm -rf "$metadata"' EXIT

run() {
  printf '+ %s\n' "$*" >&2
  ((dry)) || "$@"
}

# linux/amd64: the GPU instances (ECS gn*, ACS GPU pods) are x86-64.
# registry.<region>.aliyuncs.com -> registry-vpc.…; crpi-<id>.<region>.… -> crpi-<id>-vpc.…
vpc_ref() { # ref
  local host=${1%%/*} rest=${1#*/}
  case $host in
  registry.*.aliyuncs.com) host=registry-vpc.${host#registry.} ;;
  crpi-*.personal.cr.aliyuncs.com) host=${host%%.*}-vpc.${host#*.} ;;
  esac
  printf '%s/%s' "$host" "$rest"
}

build() { # name ref dockerfile context
  run docker buildx build --platform linux/amd64 --build-arg "VCS_REF=$revision" \
    --file "$3" --tag "$2" --metadata-file "$metadata/$1.json" "${output[@]}" "$4"
}
# The small gateway first: a broken gateway fails the run before the 11 GB model download.
build gateway "$gateway" docker/gateway/Dockerfile docker/gateway
build comfyui "$comfyui" docker/comfyui/Dockerfile .

if ((push)) && ! ((dry)); then
  for name in gateway comfyui; do
    [[ $name == gateway ]] && ref=$gateway || ref=$comfyui
    digest=$(sed -n 's/.*"containerimage.digest": *"\(sha256:[0-9a-f]\{64\}\)".*/\1/p' "$metadata/$name.json")
    [[ -n $digest ]] || die "buildx reported no digest for $ref"
    printf '%s@%s\n' "$ref" "$digest"
    # New ACR instances only serve pulls on the VPC host, which is what the stack must reference.
    key=image; [[ $name == gateway ]] && key=gatewayImage
    printf 'for the stack: pulumi config set %s %s@%s\n' "$key" "$(vpc_ref "$ref")" "$digest" >&2
  done
fi
