/**
 * Exact versions and signing keys of what the instance installs at boot. Changing one of these
 * changes the user-data, so the instance is replaced with a host built the new way.
 */
export const HOST_PINS = {
  /** Docker CE for Ubuntu 22.04 (jammy), from Alibaba's internal docker-ce mirror. */
  dockerVersion: "5:27.5.1-1~ubuntu.22.04~jammy",
  containerdVersion: "1.7.27-1",
  /** nvidia-container-toolkit and its three companion packages share this version. */
  nvidiaToolkitVersion: "1.17.8-1",
  /** Docker's release signing key (https://docs.docker.com/engine/install/ubuntu/). */
  dockerKeyFingerprint: "9DC858229FC7DD38854AE2D88D81803C0EBFCD88",
  /** NVIDIA's libnvidia-container signing key (https://nvidia.github.io/libnvidia-container/gpgkey). */
  nvidiaKeyFingerprint: "C95B321B61E88C1809C4F759DDCAE044F796ECB0",
} as const;

/** Minutes after boot during which the idle watchdog never stops the instance. */
export const DEFAULT_IDLE_GRACE_MINUTES = 30;
