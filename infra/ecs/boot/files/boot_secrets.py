"""Fetches the deployment secret from its OOS secret parameter and writes the gateway's
files to tmpfs (/run/wan-vace, mode 0600). Runs on every boot: /run is empty after a stop.

The secret never touches user-data, logs, process arguments or persistent disk.
"""

import json
import os
import re
import sys

from aliyun_rpc import Metadata, RpcError, get_secret_parameter, log, retrying

ACCESS_LOG = "/var/log/wan-vace/access.log"
UPSTREAM = "127.0.0.1:8188"
# The gateway's own rule (docker/gateway/run): it compares the token literally in headers and
# URLs. Checking here fails the boot early, with the parameter named, instead of a crash-looping
# gateway; it also keeps docker --env-file, which takes lines literally, safe.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,512}")


class SecretError(Exception):
    pass


def parse_secret(value, name):
    try:
        secret = json.loads(value)
    except ValueError:
        secret = None
    if not isinstance(secret, dict):
        raise SecretError(f"secret parameter {name} must hold a JSON object")
    token = secret.get("token")
    if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        raise SecretError(
            f"secret parameter {name}: 'token' must be 32-512 characters of A-Z a-z 0-9 _ -"
        )
    return secret


def _pem(secret, key, kind, name):
    value = secret.get(key)
    if not isinstance(value, str) or f"-----BEGIN {kind}" not in value or "-----END" not in value:
        raise SecretError(f"secret parameter {name}: TLS mode 'selfsigned' needs a PEM '{key}'")
    return value if value.endswith("\n") else value + "\n"


def gateway_files(secret, name, tls_mode, domain, email, run_dir):
    """Returns {relative path: content} for everything the gateway and docker login read."""
    files = {}
    tls_dir = f"{run_dir}/tls"
    if tls_mode == "selfsigned":
        files["tls/cert.pem"] = _pem(secret, "tlsCertPem", "CERTIFICATE", name)
        files["tls/key.pem"] = _pem(secret, "tlsKeyPem", "", name)
        tls = f"{tls_dir}/cert.pem {tls_dir}/key.pem"
    elif tls_mode == "internal":
        tls = "internal"
    elif tls_mode == "acme" and domain:
        tls = domain
    else:
        raise SecretError(f"unsupported TLS_MODE '{tls_mode}' (acme needs TLS_DOMAIN)")
    env = {
        "VACE_TOKEN": secret["token"],
        "VACE_UPSTREAM": UPSTREAM,
        "VACE_LISTEN": ":443",
        "VACE_TLS": tls,
        "VACE_ACCESS_LOG": ACCESS_LOG,
    }
    if tls_mode == "acme" and email:
        env["VACE_ACME_EMAIL"] = email
    files["gateway.env"] = "".join(f"{key}={value}\n" for key, value in env.items())

    username, password = secret.get("registryUsername"), secret.get("registryPassword")
    if (username is None) != (password is None):
        raise SecretError(f"secret parameter {name}: set both registryUsername and registryPassword")
    if username is not None:
        if not isinstance(username, str) or not username or any(c.isspace() for c in username):
            raise SecretError(f"secret parameter {name}: registryUsername must be one word")
        if not isinstance(password, str) or not password or "\n" in password:
            raise SecretError(f"secret parameter {name}: registryPassword must be one line")
        files["registry-username"] = username
        files["registry-password"] = password
    return files


def write_private(run_dir, files):
    """Writes each file atomically with mode 0600 in 0700 directories."""
    for directory in (run_dir, f"{run_dir}/tls", f"{run_dir}/docker"):
        os.makedirs(directory, mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)
    for relative, content in files.items():
        path = f"{run_dir}/{relative}"
        temporary = f"{path}.tmp"
        if os.path.exists(temporary):
            os.unlink(temporary)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(content)
        os.replace(temporary, path)


def main():
    env = os.environ
    missing = [key for key in ("REGION", "SECRET_PARAMETER_NAME", "TLS_MODE") if not env.get(key)]
    if missing:
        log(f"ERROR: {', '.join(missing)} missing from /etc/wan-vace/boot.env")
        return 2
    region, name, run_dir = env["REGION"], env["SECRET_PARAMETER_NAME"], env.get(
        "WAN_VACE_RUN_DIR", "/run/wan-vace"
    )
    metadata = Metadata()
    try:
        # Generous: the RAM role or its policy may be attached a few minutes after boot.
        value = retrying(
            lambda: get_secret_parameter(metadata, region, name),
            attempts=int(env.get("WAN_VACE_FETCH_ATTEMPTS", "30")),
            delay=float(env.get("WAN_VACE_RETRY_DELAY", "5")),
            what=f"GetSecretParameter {name}",
        )
        files = gateway_files(
            parse_secret(value, name),
            name,
            env["TLS_MODE"],
            env.get("TLS_DOMAIN", ""),
            env.get("ACME_EMAIL", ""),
            run_dir,
        )
        write_private(run_dir, files)
    except (RpcError, SecretError, OSError) as error:
        log(f"ERROR: {error}")
        return 1
    log(f"wrote {', '.join(sorted(files))} under {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
