/**
 * How the agent gives a task its own network namespace on a virtual network. The CNI component
 * implements this; without one, tasks that ask for a network fail with a clear message.
 */
export interface NetworkAttachRequest {
  task_id: string;
  network: string;
  port_mappings: { host_port: number; container_port: number; protocol: string }[];
  /** Where the task's resolv.conf should point (the dispatcher's addresses). */
  nameservers: string[];
}

export interface NetworkAttachment {
  /** Name under /run/netns (run the task with `ip netns exec <netns> ...`). */
  netns: string;
  ip: string;
  ip6?: string;
}

export interface NetworkAttacher {
  attach(req: NetworkAttachRequest, signal?: AbortSignal): Promise<NetworkAttachment>;
  /** Idempotent: succeeds when already gone. */
  detach(taskId: string, network: string): Promise<void>;
  /**
   * Point an attached task's resolv.conf at new nameservers (the dispatcher started, or moved, after
   * the task was attached). The running task must see the change; nothing happens for a gone task.
   */
  setNameservers?(netns: string, nameservers: string[]): Promise<void>;
}
