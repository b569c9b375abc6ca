/**
 * CNI conformance per command and spec version, against a real kernel: every kernel change
 * happens in namespaces made here.
 */
import t from 'tap';
import { requireNetns, requireTools, createNetns, uniqueName } from '../../test/lib/index.js';
import { config, env, fetchText, netName, nsPath, plugin, serve, tempDir } from './helpers.js';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

requireNetns();
requireTools('ip', 'nft', 'nsenter');

const SUBNET = '10.231.0.0/24';
const GATEWAY = '10.231.0.1';

for (const version of ['1.0.0', '1.1.0']) {
  t.test(`spec ${version}`, async (t) => {
    const host = await createNetns(t, 'h');
    const dataDir = await tempDir(t);
    const name = netName();
    const conf = config({ cniVersion: version, name, dataDir, subnet: SUBNET });
    const task = await createNetns(t, 't');
    const cid = uniqueName('c');

    t.test('VERSION lists the supported versions', async (t) => {
      const r = await plugin(host, { CNI_COMMAND: 'VERSION' }, { cniVersion: version });
      t.equal(r.code, 0);
      t.same(r.out, { cniVersion: version, supportedVersions: ['1.0.0', '1.1.0'] });
    });

    let added: any;
    t.test('ADD returns the result shape and configures the namespace', async (t) => {
      const r = await plugin(host, env('ADD', cid, task), conf);
      t.equal(r.code, 0, JSON.stringify(r.out));
      added = r.out;
      t.equal(added.cniVersion, version);
      t.equal(added.interfaces.length, 3);
      t.match(added.interfaces[0], { name: `m-${name}`, mac: /^[0-9a-f:]{17}$/ });
      t.match(added.interfaces[2], { name: 'eth0', mac: /^[0-9a-f:]{17}$/, sandbox: nsPath(task) });
      t.equal('mtu' in added.interfaces[2], version === '1.1.0', 'mtu only from 1.1.0 on');
      t.match(added.ips, [{ address: /^10\.231\.0\.\d+\/24$/, gateway: GATEWAY, interface: 2 }]);
      t.same(added.routes, [{ dst: '0.0.0.0/0' }]);
      t.notOk(added.ips[0].version, '1.x results carry no ip version');
      const ip = added.ips[0].address.split('/')[0];
      t.not(ip, GATEWAY);
      const addr = JSON.parse(await task.ip('-j', 'addr', 'show', 'dev', 'eth0'))[0];
      t.equal(addr.mtu, 1420);
      t.ok(addr.addr_info.some((a: any) => a.local === ip && a.prefixlen === 24));
      t.match(await task.ip('route', 'show', 'default'), `default via ${GATEWAY} dev eth0`);
      await serve(t, host, GATEWAY, 7070, 'gateway');
      t.equal(await fetchText(task, GATEWAY, 7070), 'gateway', 'task reaches the gateway');
      const br = JSON.parse(await host.ip('-j', '-d', 'link', 'show', 'dev', added.interfaces[1].name))[0];
      t.equal(br.master, `m-${name}`);
      t.equal(br.linkinfo.info_slave_data.hairpin, true, 'hairpin on');
    });

    t.test('CHECK passes after ADD, fails after tampering', async (t) => {
      const withPrev = { ...conf, prevResult: added };
      t.equal((await plugin(host, env('CHECK', cid, task), withPrev)).code, 0);
      const tamper: [string, string[], RegExp][] = [
        ['route removed', ['route', 'del', 'default'], /route default via/],
        ['address removed', ['addr', 'flush', 'dev', 'eth0'], /lacks address/],
        ['link down', ['link', 'set', 'eth0', 'down'], /is down/],
      ];
      for (const [what, cmd, msg] of tamper) {
        await task.ip(...cmd);
        const r = await plugin(host, env('CHECK', cid, task), withPrev);
        t.equal(r.out?.code, 101, what);
        t.match(r.out.msg, msg, what);
        // ADD again repairs it (ensure-style), with the same address.
        const again = await plugin(host, env('ADD', cid, task), conf);
        t.equal(again.out.ips[0].address, added.ips[0].address, `${what}: re-ADD keeps the address`);
        t.equal((await plugin(host, env('CHECK', cid, task), withPrev)).code, 0, `${what}: repaired`);
      }
      const wrongPrev = { ...conf, prevResult: { ...added, ips: [{ address: '10.231.0.250/24', gateway: GATEWAY, interface: 2 }] } };
      t.equal((await plugin(host, env('CHECK', cid, task), wrongPrev)).out?.code, 101, 'prevResult with another address');
    });

    t.test('DEL twice succeeds and releases everything', async (t) => {
      for (const round of [1, 2]) {
        const r = await plugin(host, env('DEL', cid, task), conf);
        t.equal(r.code, 0, `DEL ${round}: ${JSON.stringify(r.out)}`);
      }
      const files = await readdir(join(dataDir, name));
      t.notOk(files.some((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)), 'no address left allocated');
      await t.rejects(host.ip('link', 'show', 'dev', added.interfaces[1].name), 'host veth gone');
      await t.rejects(task.ip('link', 'show', 'dev', 'eth0'), 'task end gone');
      const noNetns = { ...env('DEL', cid, task), CNI_NETNS: '' };
      t.equal((await plugin(host, noNetns, conf)).code, 0, 'DEL without a netns');
      t.equal((await plugin(host, env('DEL', cid, '/run/netns/none-such'), conf)).code, 0, 'DEL with a vanished netns');
    });

    t.test('errors carry the spec codes', async (t) => {
      const rows: [string, NodeJS.ProcessEnv, unknown, number, RegExp][] = [
        ['no CNI_COMMAND', { ...env('ADD', cid, task), CNI_COMMAND: '' }, conf, 4, /CNI_COMMAND/],
        ['no CNI_CONTAINERID', { ...env('ADD', '', task) }, conf, 4, /CNI_CONTAINERID/],
        ['no CNI_IFNAME', { ...env('ADD', cid, task), CNI_IFNAME: '' }, conf, 4, /CNI_IFNAME/],
        ['no CNI_NETNS on ADD', { ...env('ADD', cid, task), CNI_NETNS: '' }, conf, 4, /CNI_NETNS/],
        ['netns does not exist', env('ADD', cid, '/run/netns/none-such'), conf, 4, /does not exist/],
        ['bad JSON', env('ADD', cid, task), '{"cniVersion": ', 6, /not valid JSON/],
        ['unknown cniVersion', env('ADD', cid, task), { ...conf, cniVersion: '9.9.9' }, 1, /incompatible CNI version "9.9.9"/],
        ['old cniVersion', env('ADD', cid, task), { ...conf, cniVersion: '0.4.0' }, 1, /0\.4\.0/],
        ['bad subnet', env('ADD', cid, task), { ...conf, ipam: { type: 'host-local', subnet: '10.1.2.300/24' } }, 7, /ipam\.subnet/],
        ['no name', env('ADD', cid, task), { ...conf, name: undefined }, 7, /^name: is required/],
        ['bad port mapping', env('ADD', cid, task), { ...conf, runtimeConfig: { portMappings: [{ hostPort: 0, containerPort: 80 }] } }, 7, /portMappings\[0\]\.hostPort/],
      ];
      for (const [what, e, c, code, msg] of rows) {
        const r = await plugin(host, e, c);
        t.equal(r.code, 1, `${what}: non-zero exit`);
        t.equal(r.out.code, code, `${what}: code`);
        t.match(r.out.msg, msg, `${what}: message`);
        t.ok(r.out.cniVersion, `${what}: error has cniVersion`);
      }
      const files = await readdir(join(dataDir, name)).catch(() => []);
      t.notOk(files.some((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)), 'failed ADDs leave no allocation');
    });

    t.test('STATUS and GC', async (t) => {
      const status = await plugin(host, { CNI_COMMAND: 'STATUS' }, conf);
      const gcConf = { ...conf, 'cni.dev/valid-attachments': [] };
      const task2 = await createNetns(t, 't');
      const cid2 = uniqueName('c');
      t.equal((await plugin(host, env('ADD', cid2, task2), conf)).code, 0);
      const gc = await plugin(host, { CNI_COMMAND: 'GC', CNI_PATH: '/usr/lib/cni' }, gcConf);
      const left = (await readdir(join(dataDir, name))).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
      if (version === '1.1.0') {
        t.equal(status.code, 0, 'STATUS ok');
        t.equal(gc.code, 0, JSON.stringify(gc.out));
        t.same(left, [], 'GC released the allocation of a container not in valid-attachments');
        await t.rejects(host.ip('link', 'show', 'master', `m-${name}`).then((o) => (o.includes('sxv') ? Promise.resolve() : Promise.reject(new Error('none')))), 'GC removed its veth');
      } else {
        t.equal(status.out?.code, 1, 'STATUS needs 1.1.0');
        t.equal(gc.out?.code, 1, 'GC needs 1.1.0');
        t.equal(left.length, 1, 'GC refused: allocation kept');
      }
      t.equal((await plugin(host, env('DEL', cid2, task2), conf)).code, 0);
    });
  });
}
