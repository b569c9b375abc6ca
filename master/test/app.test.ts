import t from 'tap';
import { parseApp } from '../marathon/app.js';
import { ValidationError } from '../../common/index.js';

const base = { id: '/web', cmd: 'sleep 100' };

// One row per rule: [what, app JSON, path expected in the error (undefined: valid)]
const rows: [string, unknown, string | undefined][] = [
  ['minimal app is valid', base, undefined],
  ['body must be an object', [1, 2], '/'],
  ['id is required', { cmd: 'x' }, '/id'],
  ['id must be a valid path', { ...base, id: '/Web_App' }, '/id'],
  ['id with .. is invalid', { ...base, id: '/a/../b' }, '/id'],
  ['cmd or args required', { id: '/x' }, '/cmd'],
  ['cmd and args exclusive', { ...base, args: ['a'] }, '/cmd'],
  ['cmd must be a string', { id: '/x', cmd: 5 }, '/cmd'],
  ['args must be strings', { id: '/x', args: [1] }, '/args'],
  ['negative instances', { ...base, instances: -1 }, '/instances'],
  ['fractional instances', { ...base, instances: 1.5 }, '/instances'],
  ['instances wrong type', { ...base, instances: 'three' }, '/instances'],
  ['cpus wrong type', { ...base, cpus: '1' }, '/cpus'],
  ['negative mem', { ...base, mem: -5 }, '/mem'],
  ['negative disk', { ...base, disk: -1 }, '/disk'],
  ['env values are strings', { ...base, env: { A: 1 } }, '/env/A'],
  ['labels are strings', { ...base, labels: { VIP_0: true } }, '/labels/VIP_0'],
  ['labels must be an object', { ...base, labels: ['x'] }, '/labels'],
  ['port out of range', { ...base, portDefinitions: [{ port: 70000 }] }, '/portDefinitions/0/port'],
  ['port definition needs port', { ...base, portDefinitions: [{ name: 'http' }] }, '/portDefinitions/0/port'],
  ['port protocol', { ...base, portDefinitions: [{ port: 0, protocol: 'sctp' }] }, '/portDefinitions/0/protocol'],
  ['port name charset', { ...base, portDefinitions: [{ port: 0, name: 'HTTP_1' }] }, '/portDefinitions/0/name'],
  ['port labels are strings', { ...base, portDefinitions: [{ port: 0, labels: { VIP_0: 1 } }] }, '/portDefinitions/0/labels/VIP_0'],
  ['unknown constraint operator', { ...base, constraints: [['hostname', 'SOMETIMES']] }, '/constraints/0'],
  ['constraint shape', { ...base, constraints: ['hostname:UNIQUE'] }, '/constraints/0'],
  ['LIKE needs a value', { ...base, constraints: [['rack', 'LIKE']] }, '/constraints/0'],
  ['LIKE needs a valid regex', { ...base, constraints: [['rack', 'LIKE', '(']] }, '/constraints/0'],
  ['UNIQUE takes no value', { ...base, constraints: [['hostname', 'UNIQUE', 'x']] }, '/constraints/0'],
  ['valid constraints', { ...base, constraints: [['hostname', 'UNIQUE'], ['rack', 'GROUP_BY'], ['rack', 'CLUSTER', 'a'], ['rack', 'LIKE', 'r[0-9]'], ['rack', 'UNLIKE', 'x']] }, undefined],
  ['health check protocol', { ...base, healthChecks: [{ protocol: 'GOPHER' }] }, '/healthChecks/0/protocol'],
  ['health check portIndex beyond ports', { ...base, healthChecks: [{ protocol: 'HTTP', portIndex: 3 }] }, '/healthChecks/0/portIndex'],
  ['COMMAND health check needs command', { ...base, healthChecks: [{ protocol: 'COMMAND' }] }, '/healthChecks/0/command'],
  ['network mode', { ...base, networks: [{ mode: 'overlay' }] }, '/networks/0/mode'],
  ['container network needs name', { ...base, networks: [{ mode: 'container' }] }, '/networks/0/name'],
  ['portMappings need a non-host network', { ...base, container: { type: 'MESOS', portMappings: [{ containerPort: 80 }] } }, '/container/portMappings'],
  ['container type', { ...base, container: { type: 'RKT' } }, '/container/type'],
  ['portMapping containerPort type', { ...base, networks: [{ mode: 'container/bridge' }], container: { type: 'MESOS', portMappings: [{ containerPort: 'x' }] } }, '/container/portMappings/0/containerPort'],
  ['upgradeStrategy range', { ...base, upgradeStrategy: { minimumHealthCapacity: 2 } }, '/upgradeStrategy/minimumHealthCapacity'],
];

for (const [what, json, path] of rows) {
  t.test(what, async (t) => {
    if (path === undefined) {
      t.doesNotThrow(() => parseApp(json));
      return;
    }
    try {
      parseApp(json);
      t.fail('expected a ValidationError');
    } catch (e) {
      t.ok(e instanceof ValidationError, 'ValidationError');
      const paths = (e as ValidationError).details.map((d) => d.path);
      t.ok(paths.includes(path), `details name ${path} (got ${paths.join(', ')})`);
    }
  });
}

t.test('every bad path is listed at once', async (t) => {
  const e = t.throws(() => parseApp({ id: '/x', cmd: 1, instances: -1, mem: 'a' })) as unknown as ValidationError;
  t.same(e.details.map((d) => d.path).sort(), ['/cmd', '/instances', '/mem']);
});

t.test('defaults', async (t) => {
  const a = parseApp({ id: 'group/web', cmd: 'x' });
  t.equal(a.id, '/group/web');
  t.equal(a.instances, 1);
  t.equal(a.cpus, 1);
  t.equal(a.mem, 128);
  t.same(a.portDefinitions, [{ port: 0, protocol: 'tcp', labels: {} }], 'host networking gets one port by default');
  t.same(parseApp({ ...base, portDefinitions: [] }).portDefinitions, [], 'explicit [] means no ports');
  t.same(a.networks, [{ mode: 'host' }]);
  t.equal(a.backoffSeconds, 1);
  t.equal(a.maxLaunchDelaySeconds, 60);
});
