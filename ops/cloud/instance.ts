/**
 * One ECS instance by id: its status (DescribeInstances with InstanceIds) and its console output
 * (GetInstanceConsoleOutput). `vace bake` waits on its builder instance with these.
 *
 * GetInstanceConsoleOutput (ECS API reference, 2014-05-26; www.alibabacloud.com/help/en/ecs/
 * developer-reference/api-ecs-2014-05-26-getinstanceconsoleoutput): "Alibaba Cloud caches system
 * command outputs for the last start, restart, or shutdown"; ConsoleOutput is Base64; not for Windows
 * or retired instance types. RemoveSymbols is left at its default (false): the reference does not say
 * which "formatting symbols" it removes, and the verdict line is JSON, whose punctuation must survive;
 * the caller strips terminal escapes itself. Not stated anywhere we found: how much output is cached,
 * and which console device it captures (the builder writes its verdict to /dev/ttyS0 and the journal).
 */
import type { RpcClient } from "./rpc";

export interface InstanceState {
  id: string;
  /** Pending, Starting, Running, Stopping or Stopped. */
  status: string;
  /** When ECS releases the instance by itself (UTC, yyyy-MM-ddTHH:mmZ); undefined when none is set. */
  autoReleaseTime?: string;
}

/** The instance's state, or undefined when the region holds no instance with this id. */
export async function describeInstance(
  client: RpcClient,
  id: string,
): Promise<InstanceState | undefined> {
  type Instance = { InstanceId: string; Status: string; AutoReleaseTime?: string };
  const r = await client.call<{ Instances?: { Instance?: Instance[] } }>(
    "ecs",
    "DescribeInstances",
    { RegionId: client.region, InstanceIds: JSON.stringify([id]) },
  );
  const found = r.Instances?.Instance?.find((i) => i.InstanceId === id);
  if (!found) return undefined;
  return {
    id,
    status: found.Status,
    ...(found.AutoReleaseTime && { autoReleaseTime: found.AutoReleaseTime }),
  };
}

/** The instance's cached console output, decoded to text. */
export async function consoleOutput(client: RpcClient, id: string): Promise<string> {
  const r = await client.call<{ ConsoleOutput?: string }>("ecs", "GetInstanceConsoleOutput", {
    RegionId: client.region,
    InstanceId: id,
  });
  return Buffer.from(r.ConsoleOutput ?? "", "base64").toString("utf8");
}
