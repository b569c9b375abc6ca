/**
 * The Marathon app definition and its parser. `parseApp` returns a typed, defaulted App or throws
 * a ValidationError listing every bad path (JSON-pointer style, like `/instances`), which the HTTP
 * layer turns into Marathon's 422 `{message: "Object is not valid", details: [...]}`.
 */
import { compileSchema, ValidationError, withoutNulls, type SchemaChecker } from '../../common/index.js';
import { isVipPortLabel, parseVipPortLabel, parseVipValue, VipLabelError, vipPortLabelIndex } from '../../contracts/vip-label.js';
import { DEFAULT_LIMITS, LIMIT_ENV, type Limits } from '../limits.js';
import { appDefinitionSchema, type AppDefinition } from './schema.js';

export type Protocol = 'tcp' | 'udp' | 'udp,tcp';
export const OPERATORS = ['UNIQUE', 'CLUSTER', 'GROUP_BY', 'LIKE', 'UNLIKE', 'MAX_PER'] as const;
export type Operator = (typeof OPERATORS)[number];
export type Constraint = { field: string; operator: Operator; value?: string };

export interface PortDefinition {
  port: number;
  protocol: Protocol;
  name?: string;
  labels: Record<string, string>;
}

export interface PortMapping {
  containerPort: number;
  /** Absent: no host port (container networks); 0: any free host port. */
  hostPort?: number;
  servicePort?: number;
  protocol: Protocol;
  name?: string;
  labels: Record<string, string>;
}

export type NetworkMode = 'host' | 'container' | 'container/bridge';
export interface Network {
  mode: NetworkMode;
  name?: string;
}

export interface HealthCheck {
  protocol: 'HTTP' | 'HTTPS' | 'TCP' | 'COMMAND' | 'MESOS_HTTP' | 'MESOS_HTTPS' | 'MESOS_TCP';
  path?: string;
  portIndex?: number;
  port?: number;
  command?: { value: string };
  intervalSeconds: number;
  timeoutSeconds: number;
  gracePeriodSeconds: number;
  maxConsecutiveFailures: number;
}

export interface App {
  id: string;
  cmd?: string;
  args?: string[];
  cpus: number;
  mem: number;
  disk: number;
  instances: number;
  env: Record<string, string>;
  labels: Record<string, string>;
  portDefinitions: PortDefinition[];
  requirePorts: boolean;
  container?: { type: 'MESOS'; portMappings: PortMapping[] };
  networks: Network[];
  healthChecks: HealthCheck[];
  constraints: Constraint[];
  backoffSeconds: number;
  backoffFactor: number;
  maxLaunchDelaySeconds: number;
  taskKillGracePeriodSeconds: number;
  upgradeStrategy: { minimumHealthCapacity: number; maximumOverCapacity: number };
}

const SEGMENT = /^(([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$/;
const PORT_NAME = /^[a-z0-9-]+$/;

/** Normalise an app id to its absolute form (`web` -> `/web`); undefined when invalid. */
export function normalizeId(id: string): string | undefined {
  const segs = id.split('/').filter((s, i) => !(i === 0 && s === ''));
  if (!segs.length || !segs.every((s) => SEGMENT.test(s))) return undefined;
  return '/' + segs.join('/');
}

/** Collects errors by path; readers return undefined for a bad or absent value. */
class Check {
  readonly errors = new Map<string, string[]>();
  fail(path: string, why: string): undefined {
    const list = this.errors.get(path) ?? [];
    list.push(why);
    this.errors.set(path, list);
    return undefined;
  }
  num(o: Record<string, unknown>, key: string, path: string, dflt: number, r: { min?: number; max?: number; int?: boolean } = {}): number {
    const v = o[key];
    if (v === undefined || v === null) return dflt;
    const p = `${path}/${key}`;
    if (typeof v !== 'number' || !Number.isFinite(v)) return this.fail(p, `got ${show(v)}, expected a number`) ?? dflt;
    if (r.int && !Number.isInteger(v)) return this.fail(p, `got ${v}, expected an integer`) ?? dflt;
    if (r.min !== undefined && v < r.min) return this.fail(p, `got ${v}, expected ${r.min} or more`) ?? dflt;
    if (r.max !== undefined && v > r.max) return this.fail(p, `got ${v}, expected ${r.max} or less`) ?? dflt;
    return v;
  }
  str(o: Record<string, unknown>, key: string, path: string): string | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    return typeof v === 'string' ? v : this.fail(`${path}/${key}`, `got ${show(v)}, expected a string`);
  }
  bool(o: Record<string, unknown>, key: string, path: string, dflt: boolean): boolean {
    const v = o[key];
    if (v === undefined || v === null) return dflt;
    return typeof v === 'boolean' ? v : (this.fail(`${path}/${key}`, `got ${show(v)}, expected a boolean`) ?? dflt);
  }
  obj(v: unknown, path: string): Record<string, unknown> | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) return this.fail(path, `got ${show(v)}, expected an object`);
    return v as Record<string, unknown>;
  }
  list(v: unknown, path: string): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) return this.fail(path, `got ${show(v)}, expected an array`) ?? [];
    return v;
  }
  strMap(v: unknown, path: string): Record<string, string> {
    const o = this.obj(v, path);
    if (!o) return {};
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(o)) {
      if (typeof val === 'string') out[k] = val;
      else this.fail(`${path}/${k}`, `got ${show(val)}, expected a string`);
    }
    return out;
  }
  oneOf<T extends string>(o: Record<string, unknown>, key: string, path: string, allowed: readonly T[], dflt: T): T {
    const v = o[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    return this.fail(`${path}/${key}`, `got ${show(v)}, expected one of ${allowed.join(', ')}`) ?? dflt;
  }
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? s.slice(0, 37) + '...' : s;
}

const PROTOCOLS = ['tcp', 'udp', 'udp,tcp'] as const;

const checkers = new WeakMap<Limits, SchemaChecker<AppDefinition>>();

function appChecker(limits: Limits): SchemaChecker<AppDefinition> {
  let c = checkers.get(limits);
  if (!c) checkers.set(limits, (c = compileSchema<AppDefinition>(appDefinitionSchema(limits))));
  return c;
}

/**
 * Parse an app definition (POST body, or stored definition merged with a PUT body): first the
 * schema (types, enums, bounds), then what a schema cannot say (cmd or args, id paths, VIP labels
 * through the l4lb's parser, ports named by health checks). Null properties count as absent.
 */
export function parseApp(body: unknown, limits: Limits = DEFAULT_LIMITS): App {
  if (body === undefined) throw new ValidationError([{ path: '/', errors: ['expected an app definition object'] }]);
  const def = appChecker(limits).check(withoutNulls(body));
  const c = new Check();
  const app = readApp(c, def as Record<string, unknown>, limits);
  checkVipLabels(c, app);
  if (c.errors.size) throw new ValidationError([...c.errors].map(([path, errors]) => ({ path, errors })));
  return app;
}

function readApp(c: Check, o: Record<string, unknown>, limits: Limits): App {
  const rawId = c.str(o, 'id', '');
  let id = '';
  if (rawId === undefined) {
    if (o.id === undefined) c.fail('/id', 'is required');
  } else id = normalizeId(rawId) ?? c.fail('/id', `'${rawId}' is not a valid path: segments must match [a-z0-9]([a-z0-9.-]*[a-z0-9])?`) ?? '';
  const long = id.split('/').find((seg) => seg.length > limits.idSegmentLength);
  if (long !== undefined) c.fail('/id', `segment '${long.slice(0, 20)}...' has ${long.length} characters, more than ${limits.idSegmentLength} (maxLength, set by ${LIMIT_ENV.idSegmentLength})`);
  const cmd = c.str(o, 'cmd', '');
  const args = readArgs(c, o.args);
  if (cmd === undefined && args === undefined && o.cmd === undefined && o.args === undefined) c.fail('/cmd', "an app needs 'cmd' or 'args'");
  if (cmd !== undefined && args !== undefined) c.fail('/cmd', "only one of 'cmd' and 'args' may be set");
  let container = readContainer(c, o.container);
  let networks = readNetworks(c, o.networks);
  const ip = readIpAddress(c, o.ipAddress);
  if (ip) {
    const same = networks.length === 1 && networks[0]!.mode === 'container' && networks[0]!.name === ip.network;
    if (o.networks !== undefined && !same) c.fail('/ipAddress', `ipAddress names network '${ip.network}' but networks says ${show(o.networks)}: give one of them`);
    networks = [{ mode: 'container', name: ip.network }];
    if (ip.ports.length && !container?.portMappings.length) container = { type: 'MESOS', portMappings: ip.ports };
    else if (ip.ports.length && JSON.stringify(ip.ports) !== JSON.stringify(container!.portMappings.map(({ hostPort: _h, servicePort: _s, ...m }) => m)))
      c.fail('/ipAddress/discovery/ports', 'differ from container.portMappings: give one of them');
  }
  const portDefinitions = readPortDefinitions(c, o.portDefinitions, o.portDefinitions === undefined && !container?.portMappings.length && networks.every((n) => n.mode === 'host'));
  if (container?.portMappings.length && networks.every((n) => n.mode === 'host')) c.fail('/container/portMappings', 'portMappings need a container or container/bridge network');
  if (portDefinitions.length && o.portDefinitions !== undefined && networks.some((n) => n.mode !== 'host')) c.fail('/portDefinitions', 'portDefinitions are for host networking; use container.portMappings');
  const nPorts = container?.portMappings.length || portDefinitions.length;
  const upgrade = c.obj(o.upgradeStrategy, '/upgradeStrategy') ?? {};
  return {
    id,
    ...(cmd !== undefined ? { cmd } : {}),
    ...(args !== undefined ? { args } : {}),
    cpus: c.num(o, 'cpus', '', 1, { min: 0 }),
    mem: c.num(o, 'mem', '', 128, { min: 0 }),
    disk: c.num(o, 'disk', '', 0, { min: 0 }),
    instances: c.num(o, 'instances', '', 1, { min: 0, int: true }),
    env: c.strMap(o.env, '/env'),
    labels: c.strMap(o.labels, '/labels'),
    portDefinitions,
    requirePorts: c.bool(o, 'requirePorts', '', false),
    ...(container ? { container } : {}),
    networks,
    healthChecks: readHealthChecks(c, o.healthChecks, nPorts),
    constraints: readConstraints(c, o.constraints),
    backoffSeconds: c.num(o, 'backoffSeconds', '', 1, { min: 0 }),
    backoffFactor: c.num(o, 'backoffFactor', '', 2, { min: 1 }),
    maxLaunchDelaySeconds: c.num(o, 'maxLaunchDelaySeconds', '', 60, { min: 0 }),
    taskKillGracePeriodSeconds: c.num(o, 'taskKillGracePeriodSeconds', '', 3, { min: 0 }),
    upgradeStrategy: {
      minimumHealthCapacity: c.num(upgrade, 'minimumHealthCapacity', '/upgradeStrategy', 1, { min: 0, max: 1 }),
      maximumOverCapacity: c.num(upgrade, 'maximumOverCapacity', '/upgradeStrategy', 1, { min: 0, max: 1 }),
    },
  };
}

function readArgs(c: Check, v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) return c.fail('/args', `got ${show(v)}, expected an array of strings`);
  return v as string[];
}

function readPortDefinitions(c: Check, v: unknown, defaultOne: boolean): PortDefinition[] {
  if (v === undefined && defaultOne) return [{ port: 0, protocol: 'tcp', labels: {} }];
  return c.list(v, '/portDefinitions').map((item, i) => {
    const p = `/portDefinitions/${i}`;
    const o = c.obj(item, p) ?? {};
    const name = c.str(o, 'name', p);
    if (name !== undefined && !PORT_NAME.test(name)) c.fail(`${p}/name`, `'${name}' must match ${PORT_NAME.source}`);
    if (o.port === undefined) c.fail(`${p}/port`, 'is required');
    return {
      port: c.num(o, 'port', p, 0, { min: 0, max: 65535, int: true }),
      protocol: c.oneOf(o, 'protocol', p, PROTOCOLS, 'tcp'),
      ...(name !== undefined ? { name } : {}),
      labels: c.strMap(o.labels, `${p}/labels`),
    };
  });
}

function readContainer(c: Check, v: unknown): App['container'] {
  const o = c.obj(v, '/container');
  if (!o) return undefined;
  c.oneOf(o, 'type', '/container', ['MESOS'] as const, 'MESOS');
  const portMappings = c.list(o.portMappings, '/container/portMappings').map((item, i) => {
    const p = `/container/portMappings/${i}`;
    const m = c.obj(item, p) ?? {};
    const name = c.str(m, 'name', p);
    if (name !== undefined && !PORT_NAME.test(name)) c.fail(`${p}/name`, `'${name}' must match ${PORT_NAME.source}`);
    const hostPort = m.hostPort === undefined || m.hostPort === null ? undefined : c.num(m, 'hostPort', p, 0, { min: 0, max: 65535, int: true });
    const servicePort = m.servicePort === undefined || m.servicePort === null ? undefined : c.num(m, 'servicePort', p, 0, { min: 0, max: 65535, int: true });
    return {
      containerPort: c.num(m, 'containerPort', p, 0, { min: 0, max: 65535, int: true }),
      ...(hostPort !== undefined ? { hostPort } : {}),
      ...(servicePort !== undefined ? { servicePort } : {}),
      protocol: c.oneOf(m, 'protocol', p, PROTOCOLS, 'tcp'),
      ...(name !== undefined ? { name } : {}),
      labels: c.strMap(m.labels, `${p}/labels`),
    };
  });
  return { type: 'MESOS', portMappings };
}

function readNetworks(c: Check, v: unknown): Network[] {
  const nets = c.list(v, '/networks').map((item, i) => {
    const p = `/networks/${i}`;
    const o = c.obj(item, p) ?? {};
    const mode = c.oneOf(o, 'mode', p, ['host', 'container', 'container/bridge'] as const, 'container');
    const name = c.str(o, 'name', p);
    if (mode === 'container' && !name) c.fail(`${p}/name`, 'a container network needs a name');
    if (mode !== 'container' && name !== undefined) c.fail(`${p}/name`, `only container networks have a name`);
    return { mode, ...(name !== undefined ? { name } : {}) };
  });
  if (nets.length > 1 && nets.some((n) => n.mode !== 'container')) c.fail('/networks', 'host and bridge networking cannot be combined with other networks');
  if (nets.length > 1) c.fail('/networks', 'at most one container network per app is supported');
  return nets.length ? nets : [{ mode: 'host' }];
}

/**
 * `ipAddress` (IP per task, Marathon 1.3): the network it names and its discovery ports as port
 * mappings without host ports (the task's own address serves them).
 */
function readIpAddress(c: Check, v: unknown): { network: string; ports: PortMapping[] } | undefined {
  const o = c.obj(v, '/ipAddress');
  if (!o) return undefined;
  const network = c.str(o, 'networkName', '/ipAddress');
  if (!network) c.fail('/ipAddress/networkName', 'is required: the virtual network the task joins (for example "dcos")');
  if (c.list(o.groups, '/ipAddress/groups').length) c.fail('/ipAddress/groups', 'network security groups are not supported: leave groups empty');
  const discovery = c.obj(o.discovery, '/ipAddress/discovery') ?? {};
  const ports = c.list(discovery.ports, '/ipAddress/discovery/ports').map((item, i) => {
    const p = `/ipAddress/discovery/ports/${i}`;
    const d = c.obj(item, p) ?? {};
    const name = c.str(d, 'name', p);
    if (name !== undefined && !PORT_NAME.test(name)) c.fail(`${p}/name`, `'${name}' must match ${PORT_NAME.source}`);
    return {
      containerPort: c.num(d, 'number', p, 0, { min: 1, max: 65535, int: true }),
      protocol: c.oneOf(d, 'protocol', p, PROTOCOLS, 'tcp'),
      ...(name !== undefined ? { name } : {}),
      labels: c.strMap(d.labels, `${p}/labels`),
    };
  });
  return network ? { network, ports } : undefined;
}

const HC_PROTOCOLS = ['HTTP', 'HTTPS', 'TCP', 'COMMAND', 'MESOS_HTTP', 'MESOS_HTTPS', 'MESOS_TCP'] as const;

function readHealthChecks(c: Check, v: unknown, nPorts: number): HealthCheck[] {
  return c.list(v, '/healthChecks').map((item, i) => {
    const p = `/healthChecks/${i}`;
    const o = c.obj(item, p) ?? {};
    const protocol = c.oneOf(o, 'protocol', p, HC_PROTOCOLS, 'HTTP');
    const cmd = c.obj(o.command, `${p}/command`);
    const command = cmd ? c.str(cmd, 'value', `${p}/command`) : undefined;
    if (protocol === 'COMMAND' && !command) c.fail(`${p}/command`, 'a COMMAND health check needs command.value');
    const portIndex = o.portIndex === undefined ? undefined : c.num(o, 'portIndex', p, 0, { min: 0, int: true });
    const port = o.port === undefined ? undefined : c.num(o, 'port', p, 0, { min: 1, max: 65535, int: true });
    if (protocol !== 'COMMAND' && port === undefined && (portIndex ?? 0) >= nPorts)
      c.fail(`${p}/portIndex`, `index ${portIndex ?? 0} but the app has ${nPorts} port(s)`);
    const path = c.str(o, 'path', p);
    return {
      protocol,
      ...(path !== undefined ? { path } : {}),
      ...(protocol !== 'COMMAND' && port === undefined ? { portIndex: portIndex ?? 0 } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(command ? { command: { value: command } } : {}),
      intervalSeconds: c.num(o, 'intervalSeconds', p, 60, { min: 0 }),
      timeoutSeconds: c.num(o, 'timeoutSeconds', p, 20, { min: 0 }),
      gracePeriodSeconds: c.num(o, 'gracePeriodSeconds', p, 300, { min: 0 }),
      maxConsecutiveFailures: c.num(o, 'maxConsecutiveFailures', p, 3, { min: 0, int: true }),
    };
  });
}

function readConstraints(c: Check, v: unknown): Constraint[] {
  const out: Constraint[] = [];
  c.list(v, '/constraints').forEach((item, i) => {
    const p = `/constraints/${i}`;
    if (!Array.isArray(item) || item.length < 2 || item.length > 3 || !item.every((s) => typeof s === 'string')) {
      c.fail(p, `got ${show(item)}, expected [field, operator] or [field, operator, value] of strings`);
      return;
    }
    const [field, op, value] = item as string[];
    if (!(OPERATORS as readonly string[]).includes(op!)) {
      c.fail(p, `unknown constraint operator '${op}', expected one of ${OPERATORS.join(', ')}`);
      return;
    }
    const operator = op as Operator;
    if ((operator === 'LIKE' || operator === 'UNLIKE') && value === undefined) c.fail(p, `${operator} needs a regular expression value`);
    if (value !== undefined && (operator === 'LIKE' || operator === 'UNLIKE')) {
      try {
        new RegExp(value);
      } catch {
        c.fail(p, `'${value}' is not a valid regular expression`);
      }
    }
    if (operator === 'MAX_PER' && !(value !== undefined && /^[0-9]+$/.test(value))) c.fail(p, 'MAX_PER needs a number value');
    if (operator === 'GROUP_BY' && value !== undefined && !/^[0-9]+$/.test(value)) c.fail(p, 'GROUP_BY value must be a number');
    if (operator === 'UNIQUE' && value !== undefined) c.fail(p, 'UNIQUE takes no value');
    out.push({ field: field!, operator, ...(value !== undefined ? { value } : {}) });
  });
  return out;
}

/** Every VIP label of the app must parse (the l4lb's parser); a bad one is a 422, not a warning. */
function checkVipLabels(c: Check, app: App): void {
  for (const v of vipLabels(app)) {
    try {
      if (v.task) {
        parseVipPortLabel(v.value, app.id, v.key);
        const idx = vipPortLabelIndex(v.key)!;
        if (idx >= v.ports) c.fail(v.path, `${v.key} names port ${idx} but the app has ${v.ports} port(s) (VIP label)`);
      } else parseVipValue(v.value, app.id, v.key);
    } catch (e) {
      if (!(e instanceof VipLabelError)) throw e;
      c.fail(v.path, `${JSON.stringify(v.value)}: ${e.reason} (VIP label)`);
    }
  }
}

interface VipLabelRef {
  path: string;
  key: string;
  value: string;
  /** A `VIP_PORT<n>` app label (task label) rather than a port label. */
  task: boolean;
  ports: number;
}

function vipLabels(app: App): VipLabelRef[] {
  const out: VipLabelRef[] = [];
  const ports = app.container?.portMappings.length ? app.container.portMappings : app.portDefinitions;
  const base = app.container?.portMappings.length ? '/container/portMappings' : '/portDefinitions';
  ports.forEach((p, i) => {
    for (const [key, value] of Object.entries(p.labels)) if (isVipPortLabel(key)) out.push({ path: `${base}/${i}/labels/${key}`, key, value, task: false, ports: ports.length });
  });
  for (const [key, value] of Object.entries(app.labels)) if (vipPortLabelIndex(key) !== undefined) out.push({ path: `/labels/${key}`, key, value, task: true, ports: ports.length });
  return out;
}

/** The literal-IP VIPs an app asks for (after parseApp: every label parses), with their paths. */
export function literalVips(app: App): { path: string; ip: string; port: number }[] {
  const out: { path: string; ip: string; port: number }[] = [];
  for (const v of vipLabels(app)) {
    try {
      const t = v.task ? parseVipPortLabel(v.value, app.id, v.key) : parseVipValue(v.value, app.id, v.key);
      if (t.kind === 'ip') out.push({ path: v.path, ip: t.ip, port: t.port });
    } catch {
      /* parseApp reported it */
    }
  }
  return out;
}

/** The app as Marathon shows it (constraints as arrays). */
export function appToJson(app: App): Record<string, unknown> {
  const { constraints, ...rest } = app;
  return { ...rest, constraints: constraints.map((k) => (k.value === undefined ? [k.field, k.operator] : [k.field, k.operator, k.value])) };
}
