import { describe, expect, it } from "vitest";
import { TEST_CERT_PEM, TEST_CERT_SHA256 } from "../../test/pulumi";
import { certificateSha256 } from "./certificate";

describe("certificateSha256", () => {
  it("matches openssl's fingerprint of a real certificate", () => {
    expect(certificateSha256(TEST_CERT_PEM)).toBe(TEST_CERT_SHA256);
  });
  it("is undefined for anything that is not a certificate", () => {
    expect(certificateSha256(undefined)).toBeUndefined();
    expect(certificateSha256("<computed at deploy>")).toBeUndefined();
    expect(
      certificateSha256("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----"),
    ).toBeUndefined();
  });
});
