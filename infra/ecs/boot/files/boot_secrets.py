# Fetches the deployment secret from its OOS secret parameter and writes the gateway's
# files to tmpfs (/run/wan-vace, mode 0600). Runs on every boot: /run is empty after a stop.
#
# `--refresh` (wan-vace-secrets-refresh.timer, every 5 minutes) fetches again so a rotated token
# or certificate reaches a running instance: it rewrites only the files whose content changed,
# then restarts the gateway (or logs docker in again) for those, and does nothing otherwise.
#
# The secret never touches user-data, logs, process arguments or persistent disk.

import fcntl
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

from aliyun_rpc import Metadata, RpcError, get_secret_parameter, log, retrying

ACCESS_LOG = "/var/log/wan-vace/access.log"
UPSTREAM = "127.0.0.1:8188"
# The gateway's own rule (docker/gateway/run): it compares the token literally in headers and
# URLs. Checking here fails the boot early, with the parameter named, instead of a crash-looping
# gateway; it also keeps gateway.env (VACE_ENV_FILE: values taken literally to end of line) safe.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,512}")
# Every file this program may write, relative to the run dir.
MANAGED = ("gateway.env", "tls/cert.pem", "tls/key.pem", "registry-username", "registry-password")
# What a refresh runs when files changed. --no-block: the restart re-pulls the image, which can
# outlast this unit's timeout; a failed restart is retried by the gateway's Restart=always, and
# the new files are in place by then. Overridable for tests only.
RESTART_GATEWAY = "systemctl try-restart --no-block wan-vace-gateway.service"
REGISTRY_LOGIN = "/usr/local/lib/wan-vace/registry-login.sh"
# Changed files whose reactions failed, kept for the next refresh.
PENDING = ".refresh-pending"


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


# Returns {relative path: content} for everything the gateway and docker login read.
def gateway_files(secret, name, tls_mode, domain, email, run_dir):
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


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return None


# Makes `run_dir` (see private_dirs) hold exactly `files`, each written atomically with
# mode 0600; managed files the secret no longer carries are removed. Returns the relative
# paths whose content changed, so an unchanged secret rewrites nothing.
def write_private(run_dir, files):
    unknown = set(files) - set(MANAGED)
    if unknown:
        raise ValueError(f"not a managed file: {sorted(unknown)}")
    changed = []
    for relative in MANAGED:
        path, content = f"{run_dir}/{relative}", files.get(relative)
        if _read(path) == content:
            continue
        changed.append(relative)
        if content is None:
            os.unlink(path)
            continue
        write_private_file(path, content)
    return changed


# Writes the file atomically with mode 0600.
def write_private_file(path, content):
    descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".new-")
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)
    os.replace(temporary, path)


# What a refresh must run for the changed files: a docker login for new registry
# credentials (first, so the gateway's restart pulls with them), a gateway restart for its
# environment or TLS files. Pure.
def reactions(changed):
    commands = []
    if any(path.startswith("registry-") for path in changed):
        commands.append(("WAN_VACE_REGISTRY_LOGIN", REGISTRY_LOGIN))
    if any(path == "gateway.env" or path.startswith("tls/") for path in changed):
        commands.append(("WAN_VACE_RESTART_GATEWAY", RESTART_GATEWAY))
    return commands


# The run dir and its subdirectories, mode 0700.
def private_dirs(run_dir):
    for directory in (run_dir, f"{run_dir}/tls", f"{run_dir}/docker"):
        os.makedirs(directory, mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)


# The secret parameter's value, validated and turned into the gateway's files.
def fetch_files(env, run_dir, attempts):
    name = env["SECRET_PARAMETER_NAME"]
    metadata = Metadata()
    value = retrying(
        lambda: get_secret_parameter(metadata, env["REGION"], name),
        attempts=attempts,
        delay=float(env.get("WAN_VACE_RETRY_DELAY", "5")),
        what=f"GetSecretParameter {name}",
    )
    return gateway_files(
        parse_secret(value, name),
        name,
        env["TLS_MODE"],
        env.get("TLS_DOMAIN", ""),
        env.get("ACME_EMAIL", ""),
        run_dir,
    )


def main(argv):
    env = os.environ
    refresh = argv[1:] == ["--refresh"]
    if argv[1:] and not refresh:
        log(f"usage: {argv[0]} [--refresh]")
        return 2
    missing = [key for key in ("REGION", "SECRET_PARAMETER_NAME", "TLS_MODE") if not env.get(key)]
    if missing:
        log(f"ERROR: {', '.join(missing)} missing from /etc/wan-vace/boot.env")
        return 2
    run_dir = env.get("WAN_VACE_RUN_DIR", "/run/wan-vace")
    if refresh and not os.path.exists(f"{run_dir}/gateway.env"):
        # wan-vace-secrets is still at work (or failed and retries): the files are its job.
        log("the boot fetch has not written the secret yet; nothing to refresh")
        return 0
    # Generous at boot: the RAM role or its policy may be attached a few minutes after it.
    # A refresh that fails keeps the running files, and the timer tries again.
    attempts = int(env.get("WAN_VACE_FETCH_ATTEMPTS", "3" if refresh else "30"))
    try:
        files = fetch_files(env, run_dir, attempts)
        private_dirs(run_dir)
        # The boot fetch and a refresh may overlap; one writes at a time.
        with open(f"{run_dir}/.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            changed = write_private(run_dir, files)
            if not refresh:
                log(f"wrote {', '.join(sorted(files))} under {run_dir}")
                return 0
            # Changes whose restart or login failed last time: the files are current now, so
            # only this record makes the next refresh try again.
            pending = _read(f"{run_dir}/{PENDING}")
            if pending:
                changed = sorted(set(changed) | set(pending.split()), key=MANAGED.index)
            if not changed:
                log("secret unchanged")
                return 0
            log(f"secret changed: {', '.join(changed)}")
            try:
                for variable, default in reactions(changed):
                    command = shlex.split(env.get(variable) or default)
                    log(f"running {' '.join(command)}")
                    subprocess.run(command, check=True)
            except (subprocess.CalledProcessError, OSError) as error:
                write_private_file(f"{run_dir}/{PENDING}", "\n".join(changed) + "\n")
                raise SecretError(f"{error}; the next refresh tries again") from None
            if pending:
                os.unlink(f"{run_dir}/{PENDING}")
    except (RpcError, SecretError, OSError) as error:
        log(f"ERROR: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
