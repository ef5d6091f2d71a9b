import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../../../../test/binaries";
import { CREDENTIALS, FakeCloud, rpcSignature, runPython } from "./fake-cloud";

/**
 * Alibaba's worked example (ECS API reference, "Sign signatures",
 * https://www.alibabacloud.com/help/doc-detail/28139.htm; also the AlibabaCloudDocs/ecs copy):
 * DescribeRegions with AccessKeyId testid / secret testsecret signs to CT9X0VtwR86fNWSnsc6v8YGOjuE=.
 * The page prints its string-to-sign with bare '&' between pairs, but its own rule
 * (percentEncode of the whole canonicalized query) gives %26, and only that form reproduces
 * the published signature, so the %26 form is what we assert.
 */
const DOC_PARAMS = {
  TimeStamp: "2016-02-23T12:46:24Z",
  Format: "XML",
  AccessKeyId: "testid",
  Action: "DescribeRegions",
  SignatureMethod: "HMAC-SHA1",
  SignatureNonce: "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
  Version: "2014-05-26",
  SignatureVersion: "1.0",
};
const DOC_STRING_TO_SIGN =
  "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1" +
  "%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0" +
  "%26TimeStamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26";

async function pythonSign(params: Record<string, string>, secret: string) {
  const { code, stdout, stderr } = await runPython([
    "-c",
    "import json, sys, aliyun_rpc as a; p = json.loads(sys.argv[1]); " +
      "print(a.string_to_sign('GET', p)); print(a.sign('GET', p, sys.argv[2]))",
    JSON.stringify(params),
    secret,
  ]);
  expect(code, stderr).toBe(0);
  const [sts = "", signature = ""] = stdout.trim().split("\n");
  return [sts, signature];
}

describe("aliyun_rpc signing", () => {
  requireBinary("python3");

  it("reproduces Alibaba's documented example", async () => {
    const [sts, signature] = await pythonSign(DOC_PARAMS, "testsecret");
    expect(sts).toBe(DOC_STRING_TO_SIGN);
    expect(signature).toBe("CT9X0VtwR86fNWSnsc6v8YGOjuE=");
  });

  it("agrees with an independent implementation on characters that need escaping", async () => {
    const params = { Name: "a b/c*d~e+f=g&h'ü", SecurityToken: "x/y+z=", Action: "Act" };
    const [, signature] = await pythonSign(params, "s&e/c+r=et");
    expect(signature).toBe(rpcSignature("GET", params, "s&e/c+r=et"));
    expect(signature).not.toBe(rpcSignature("GET", { ...params, Name: "other" }, "s&e/c+r=et"));
  });
});

describe("boot_secrets.py against a fake metadata service and OOS", () => {
  const token = "tok_0123456789abcdefghijklmnopqrstuvwxyz-ABC";
  const certPem = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
  const keyPem = "-----BEGIN PRIVATE KEY-----\nMIIEfake\n-----END PRIVATE KEY-----";
  const secrets = {
    "wan-vace-dev-boot": JSON.stringify({
      token,
      tlsCertPem: certPem,
      tlsKeyPem: keyPem,
      registryUsername: "puller@123",
      registryPassword: "p@ss word!",
    }),
    "short-token": JSON.stringify({ token: "too-short-token" }),
  };
  const cloud = new FakeCloud({ secrets, credentialsMissing: 2 });
  let dir = "";

  beforeAll(async () => {
    await cloud.start();
    dir = mkdtempSync(join(tmpdir(), "wan-vace-secrets-"));
  });
  afterAll(async () => {
    await cloud.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (runDir: string, env: Record<string, string>) =>
    runPython(["boot_secrets.py"], {
      ...cloud.env(),
      REGION: "ap-southeast-1",
      SECRET_PARAMETER_NAME: "wan-vace-dev-boot",
      WAN_VACE_RUN_DIR: runDir,
      WAN_VACE_RETRY_DELAY: "0.05",
      ...env,
    });

  it("selfsigned: waits for the role, fetches with decryption, writes 0600 files on the run dir", async () => {
    const runDir = join(dir, "selfsigned");
    const result = await run(runDir, { TLS_MODE: "selfsigned" });
    expect(result.stderr).toContain("retry");
    expect(result.code).toBe(0);

    const calls = cloud.callsTo("GetSecretParameter");
    expect(calls).toHaveLength(1);
    expect(calls[0]?.params).toMatchObject({
      Name: "wan-vace-dev-boot",
      WithDecryption: "true",
      RegionId: "ap-southeast-1",
      SecurityToken: CREDENTIALS.SecurityToken,
    });
    // Hardened metadata: a session token first, then reads that carry it (the fake refuses others).
    expect(cloud.metadataRequests[0]).toBe("PUT /latest/api/token");

    expect(readFileSync(join(runDir, "gateway.env"), "utf8")).toBe(
      [
        `VACE_TOKEN=${token}`,
        "VACE_UPSTREAM=127.0.0.1:8188",
        "VACE_LISTEN=:443",
        `VACE_TLS=${runDir}/tls/cert.pem ${runDir}/tls/key.pem`,
        "VACE_ACCESS_LOG=/var/log/wan-vace/access.log",
        "",
      ].join("\n"),
    );
    expect(readFileSync(join(runDir, "tls/cert.pem"), "utf8")).toBe(certPem);
    expect(readFileSync(join(runDir, "tls/key.pem"), "utf8")).toBe(`${keyPem}\n`);
    expect(readFileSync(join(runDir, "registry-username"), "utf8")).toBe("puller@123");
    expect(readFileSync(join(runDir, "registry-password"), "utf8")).toBe("p@ss word!");
    for (const f of [
      "gateway.env",
      "tls/cert.pem",
      "tls/key.pem",
      "registry-username",
      "registry-password",
    ]) {
      expect(statSync(join(runDir, f)).mode & 0o777, f).toBe(0o600);
    }
    for (const d of ["", "tls", "docker"]) {
      expect(statSync(join(runDir, d)).mode & 0o777, d).toBe(0o700);
    }
    expect(result.stderr + result.stdout).not.toContain(token);
    expect(result.stderr + result.stdout).not.toContain("p@ss word!");
  });

  it("acme and internal: VACE_TLS names the domain or the internal CA", async () => {
    const acmeDir = join(dir, "acme");
    const acme = await run(acmeDir, {
      TLS_MODE: "acme",
      TLS_DOMAIN: "vace.example.com",
      ACME_EMAIL: "ops@example.com",
    });
    expect(acme.code).toBe(0);
    const acmeEnv = readFileSync(join(acmeDir, "gateway.env"), "utf8");
    expect(acmeEnv).toContain("VACE_TLS=vace.example.com\n");
    expect(acmeEnv).toContain("VACE_ACME_EMAIL=ops@example.com\n");

    const internalDir = join(dir, "internal");
    expect((await run(internalDir, { TLS_MODE: "internal" })).code).toBe(0);
    expect(readFileSync(join(internalDir, "gateway.env"), "utf8")).toContain("VACE_TLS=internal\n");

    // The gateway reads the file through VACE_ENV_FILE: KEY=VALUE lines, VACE_ keys only, values
    // taken literally to the end of the line (no quotes, no export, no surrounding blanks).
    for (const d of [acmeDir, internalDir]) {
      const lines = readFileSync(join(d, "gateway.env"), "utf8").split("\n");
      expect(lines.pop()).toBe("");
      for (const line of lines) expect(line).toMatch(/^VACE_[A-Z0-9_]+=[^\s"'](?:[^"']*[^\s"'])?$/);
    }
  });

  it("refuses a weak token without printing it, and writes nothing", async () => {
    const runDir = join(dir, "weak");
    const result = await run(runDir, {
      TLS_MODE: "internal",
      SECRET_PARAMETER_NAME: "short-token",
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /short-token: 'token' must be 32-512 characters of A-Z a-z 0-9 _ -/,
    );
    expect(result.stderr).not.toContain("too-short-token");
    expect(() => statSync(join(runDir, "gateway.env"))).toThrow();
  });

  it("fails at once, naming the parameter, when it does not exist", async () => {
    const result = await run(join(dir, "missing"), {
      TLS_MODE: "internal",
      SECRET_PARAMETER_NAME: "nope",
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("EntityNotExists.Parameter");
    expect(result.stderr).not.toContain("retry");
  });

  it("waits for a role attached after boot: no role listed yet, then credentials not ready", async () => {
    const late = new FakeCloud({ secrets, roleListEmpty: 2, credentialsNotReady: 1 });
    await late.start();
    try {
      const runDir = join(dir, "late-role");
      const result = await runPython(["boot_secrets.py"], {
        ...late.env(),
        REGION: "ap-southeast-1",
        SECRET_PARAMETER_NAME: "wan-vace-dev-boot",
        TLS_MODE: "internal",
        WAN_VACE_RUN_DIR: runDir,
        WAN_VACE_RETRY_DELAY: "0.01",
        WAN_VACE_FETCH_ATTEMPTS: "5",
      });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr.match(/NoRamRole: .*retry \d\/4/g)).toHaveLength(2);
      expect(result.stderr).toMatch(/NoCredentials: .*retry 3\/4/);
      expect(late.callsTo("GetSecretParameter")).toHaveLength(1);
      expect(readFileSync(join(runDir, "gateway.env"), "utf8")).toContain("VACE_TLS=internal\n");
    } finally {
      await late.stop();
    }
  });
});
