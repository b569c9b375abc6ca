/**
 * A generic netlink socket speaking to the `IPVS` family: family resolution through the genl
 * controller, pipelined commands (many in flight, each acked), and dumps (one at a time: the
 * kernel allows a single running dump per socket).
 */
// The netlink package's parts, not its index (which also loads its nl80211 and WireGuard structs; issue #26).
import { createGenericNetlink, type GenericNetlinkSocket } from 'netlink/dist/genl/genl.js';
import * as genl from 'netlink/dist/genl/structs.js';
import { FlagsGet } from 'netlink/dist/constants.js';
import { Cmd, IPVS_GENL_NAME, IPVS_GENL_VERSION } from './constants.js';
import { familyOf, serviceAttr, decodeDest, decodeService, type IpvsDest, type IpvsService } from './codec.js';
import { IpvsCommandError } from './errors.js';

/** One command: genl cmd and its attributes; `label` names the target in errors. */
export interface IpvsOp {
  cmd: number;
  attrs: Buffer[];
  label: string;
  /** Errno codes that count as success (EEXIST on create, ENOENT/ESRCH on delete). */
  okErrors?: string[];
  /** Run instead when the target already exists (create -> set). */
  onExist?: IpvsOp;
}

const TIMEOUT_MS = 10_000;

/** `Request rejected: EEXIST` (the netlink package's text) -> `EEXIST`. */
export function errnoOf(e: unknown): string {
  const m = /rejected: (\S+)/.exec((e as Error)?.message ?? '');
  return m ? m[1]! : ((e as Error)?.message ?? String(e));
}

export class IpvsSocket {
  /** Extra sockets for concurrent dumps (one running dump per socket), opened on first use. */
  private helpers: IpvsSocket[] = [];

  private constructor(
    private readonly sock: GenericNetlinkSocket,
    readonly family: number,
  ) {}

  /** Resolve the IPVS family; rejects (with the controller's errno) when ip_vs is not loaded. */
  static async open(): Promise<IpvsSocket> {
    const sock = createGenericNetlink();
    try {
      const [fam] = await sock.ctrlRequest(genl.Commands.GET_FAMILY, { familyName: IPVS_GENL_NAME }, { timeout: TIMEOUT_MS });
      if (!fam?.familyId) throw new Error('controller returned no family id');
      return new IpvsSocket(sock, fam.familyId);
    } catch (e) {
      sock.socket.close();
      throw new IpvsCommandError('resolve family', errnoOf(e), IPVS_GENL_NAME);
    }
  }

  close(): void {
    this.sock.socket.close();
    for (const h of this.helpers) h.close();
    this.helpers = [];
  }

  /** One command, acked; an errno listed in `okErrors` is success. */
  async run(op: IpvsOp): Promise<void> {
    try {
      await this.sock.request(this.family, op.cmd, IPVS_GENL_VERSION, op.attrs, { timeout: TIMEOUT_MS });
    } catch (e) {
      const code = errnoOf(e);
      if (op.okErrors?.includes(code)) return;
      if (code === 'EEXIST' && op.onExist) return this.run(op.onExist);
      throw new IpvsCommandError(cmdName(op.cmd), code, op.label);
    }
  }

  /**
   * Many independent commands with up to `window` in flight (the kernel handles them in send
   * order). Every one is attempted; the errors are returned, not thrown.
   */
  async runAll(ops: IpvsOp[], window = 64): Promise<IpvsCommandError[]> {
    const errors: IpvsCommandError[] = [];
    let next = 0;
    const worker = async () => {
      while (next < ops.length) {
        const op = ops[next++]!;
        try {
          await this.run(op);
        } catch (e) {
          errors.push(e as IpvsCommandError);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, ops.length) }, worker));
    return errors;
  }

  private async dump(cmd: number, attrs: Buffer[]): Promise<Buffer[]> {
    try {
      const [msgs] = await this.sock.request(this.family, cmd, IPVS_GENL_VERSION, attrs, { flags: FlagsGet.DUMP, timeout: TIMEOUT_MS });
      return msgs.map((m) => m.data);
    } catch (e) {
      throw new IpvsCommandError(`dump ${cmdName(cmd)}`, errnoOf(e), 'all');
    }
  }

  /** Every address-based virtual service in this network namespace. */
  async services(): Promise<IpvsService[]> {
    const out: IpvsService[] = [];
    for (const data of await this.dump(Cmd.GET_SERVICE, [])) {
      const s = decodeService(data);
      if (s) out.push(s);
    }
    return out;
  }

  /** Destinations of many services, dumped over `parallel` sockets at once; in input order. */
  async destsMany(services: IpvsService[], parallel = 8): Promise<IpvsDest[][]> {
    const want = Math.min(parallel, Math.ceil(services.length / 16));
    while (this.helpers.length < want - 1) this.helpers.push(await IpvsSocket.open());
    const socks: IpvsSocket[] = [this, ...this.helpers.slice(0, Math.max(0, want - 1))];
    const out: IpvsDest[][] = new Array(services.length);
    let next = 0;
    await Promise.all(
      socks.map(async (sock) => {
        while (next < services.length) {
          const i = next++;
          out[i] = await sock.dests(services[i]!);
        }
      }),
    );
    return out;
  }

  /** Destinations of one service. */
  async dests(s: IpvsService): Promise<IpvsDest[]> {
    const msgs = await this.dump(Cmd.GET_DEST, [serviceAttr(s, false)]);
    return msgs.map((m) => decodeDest(m, familyOf(s.addr)));
  }
}

function cmdName(cmd: number): string {
  return Object.entries(Cmd).find(([, v]) => v === cmd)?.[0].toLowerCase() ?? `cmd ${cmd}`;
}
