#!/bin/sh
# Entry point of the wan-vace ComfyUI image: runs ComfyUI with the user's arguments (e.g. --lowvram)
# while keeping it on 127.0.0.1:8188. ComfyUI has no authentication; only the token gateway in the
# same network namespace may reach it.
#
# Two locks, because ComfyUI's argparse keeps the last value of a repeated option and accepts any
# unambiguous prefix of an option name (--lis, --po=9000):
# - user arguments that name --listen, --port or --enable-cors-header, in any spelling argparse
#   would accept, are refused with a message, so nobody believes they took effect;
# - the fixed --listen and --port come after the user's arguments, so they win regardless.
set -eu

for arg in "$@"; do
  # The option name without its leading dashes and any =value, e.g. "lis" for --lis=0.0.0.0.
  case "$arg" in
    --?*) stem=${arg#--} && stem=${stem%%=*} ;;
    *) continue ;;
  esac
  for fixed in listen port enable-cors-header; do
    case "$fixed" in
      "$stem"*)
        echo "comfyui-entrypoint: '$arg' is not allowed: ComfyUI must listen on 127.0.0.1:8188 only, without CORS; it is reached through the token gateway (docs/gateway.md)" >&2
        exit 2
        ;;
    esac
  done
done

exec python main.py "$@" \
  --disable-auto-launch \
  --extra-model-paths-config /opt/models/extra_model_paths.yaml \
  --listen 127.0.0.1 --port 8188
