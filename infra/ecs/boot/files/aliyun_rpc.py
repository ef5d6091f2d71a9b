# Minimal Alibaba Cloud RPC client for the GPU instance, python3 stdlib only.
#
# Credentials come from the instance RAM role via hardened metadata access (token first),
# so nothing secret is ever stored on disk or in user-data. Requests use signature
# method V1 (HMAC-SHA1 + SecurityToken). Ubuntu 22.04 ships python3.10; keep to its stdlib.

import base64
import datetime
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

# Overridable for tests only: production always talks to the link-local metadata service
# and the regional public endpoints.
METADATA_URL = os.environ.get("WAN_VACE_METADATA_URL", "http://100.100.100.200")
ENDPOINTS = {
    "oos": ("WAN_VACE_OOS_URL", "https://oos.{region}.aliyuncs.com", "2019-06-01"),
    "ecs": ("WAN_VACE_ECS_URL", "https://ecs.{region}.aliyuncs.com", "2014-05-26"),
}
# Codes worth retrying: throttling, transient server errors, and a RAM role or policy that is
# still being attached when the instance boots (NoRamRole, NoCredentials come from metadata).
RETRYABLE = (
    "Throttling",
    "ServiceUnavailable",
    "InternalError",
    "Forbidden",
    "NoPermission",
    "NoRamRole",
    "NoCredentials",
)


class RpcError(Exception):
    def __init__(self, code, message, status=None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = status


def log(message):
    print(message, file=sys.stderr, flush=True)


def percent_encode(value):
    # Alibaba's rule: only A-Z a-z 0-9 - _ . ~ stay literal; space is %20, never '+'.
    return urllib.parse.quote(str(value), safe="")


def canonical_query(params):
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))


def string_to_sign(method, params):
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def sign(method, params, access_key_secret):
    key = (access_key_secret + "&").encode()
    digest = hmac.new(key, string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _open(request, timeout=10):
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read().decode()


# Instance metadata in hardened mode: PUT a session token, then send it on every GET.
class Metadata:

    def __init__(self, base=METADATA_URL):
        self.base = base.rstrip("/")
        self._token = None

    def token(self):
        if self._token is None:
            request = urllib.request.Request(
                f"{self.base}/latest/api/token",
                method="PUT",
                headers={"X-aliyun-ecs-metadata-token-ttl-seconds": "3600"},
            )
            self._token = _open(request).strip()
        return self._token

    def get(self, path):
        request = urllib.request.Request(
            f"{self.base}/latest/meta-data/{path}",
            headers={"X-aliyun-ecs-metadata-token": self.token()},
        )
        return _open(request).strip()

    def credentials(self):
        roles = self.get("ram/security-credentials/").split()
        if not roles:
            raise RpcError("NoRamRole", "no RAM role is attached to this instance")
        data = json.loads(self.get(f"ram/security-credentials/{roles[0]}"))
        if data.get("Code") != "Success":
            raise RpcError("NoCredentials", f"role {roles[0]}: {data.get('Code')}")
        return data


def call(service, region, action, params, credentials):
    env, default_url, version = ENDPOINTS[service]
    base = os.environ.get(env) or default_url.format(region=region)
    query = {
        "Format": "JSON",
        "Version": version,
        "Action": action,
        "AccessKeyId": credentials["AccessKeyId"],
        "SecurityToken": credentials["SecurityToken"],
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": uuid.uuid4().hex,
        "Timestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "RegionId": region,
        **params,
    }
    query["Signature"] = sign("GET", query, credentials["AccessKeySecret"])
    url = f"{base.rstrip('/')}/?{canonical_query(query)}"
    try:
        return json.loads(_open(urllib.request.Request(url), timeout=20))
    except urllib.error.HTTPError as error:
        body = error.read().decode(errors="replace")
        try:
            detail = json.loads(body)
        except ValueError:
            detail = {}
        code = detail.get("Code", f"HTTP{error.code}")
        raise RpcError(code, detail.get("Message", body[:200]), error.code) from None


# Runs action() until it succeeds; retries network errors and RETRYABLE codes only.
def retrying(action, attempts, delay=5.0, what="request"):
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except RpcError as error:
            retry = error.code.startswith(RETRYABLE) or (error.status or 0) >= 500
            failure = error
        except (urllib.error.URLError, OSError, ValueError) as error:
            retry, failure = True, error
        if not retry or attempt == attempts:
            raise failure
        log(f"{what} failed ({failure}); retry {attempt}/{attempts - 1} in {delay:.0f}s")
        time.sleep(delay)
        delay = min(delay * 2, 60.0)
    raise AssertionError("unreachable")


# Returns the decrypted value of an OOS secret parameter (GetSecretParameter).
def get_secret_parameter(metadata, region, name):
    result = call(
        "oos",
        region,
        "GetSecretParameter",
        {"Name": name, "WithDecryption": "true"},
        metadata.credentials(),
    )
    value = result.get("Parameter", {}).get("Value")
    if not isinstance(value, str):
        raise RpcError("NoValue", f"secret parameter {name} returned no decrypted Value")
    return value


# StopInstance with StoppedMode=StopCharging: an in-OS shutdown would keep billing.
def stop_instance_charging(metadata, region):
    instance_id = metadata.get("instance-id")
    credentials = metadata.credentials()
    params = {"InstanceId": instance_id, "StoppedMode": "StopCharging"}
    call("ecs", region, "StopInstance", params, credentials)
    log(f"StopInstance {instance_id} StoppedMode=StopCharging accepted")
    # The API stops the instance even where economical mode does not apply, so say what
    # the cloud reports instead of assuming billing stopped.
    try:
        described = call(
            "ecs",
            region,
            "DescribeInstances",
            {"InstanceIds": json.dumps([instance_id])},
            credentials,
        )
        instance = described["Instances"]["Instance"][0]
        log(f"instance {instance_id}: Status={instance.get('Status')} "
            f"StoppedMode={instance.get('StoppedMode', 'unknown')}")
    except (RpcError, urllib.error.URLError, OSError, KeyError, IndexError, ValueError) as error:
        log(f"DescribeInstances could not confirm the stop: {error}")
    return instance_id
