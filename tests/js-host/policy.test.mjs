// The JS host's network rule matches the Rust host's (host/src/sandbox.rs
// tests). Run: node --test tests/js-host/
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';

import {
  AddressDenied,
  admit,
  configGrant,
  namedOrigins,
  nonPublicRange,
  policyFromDeclared,
  publicOnlyLookup,
} from './policy.mjs';

test('a declared origin outside the grant is refused; the grant is what the config names', () => {
  const config = JSON.stringify({ base_url: 'http://127.0.0.1:4010', mirror: 'https://api.intercom.io' });
  assert.deepEqual(configGrant(config), ['http://127.0.0.1:4010', 'https://api.intercom.io']);
  const grant = configGrant(config, ['http://127.0.0.1:4010']);
  assert.deepEqual(policyFromDeclared(['http://127.0.0.1:4010'], config, grant), ['http://127.0.0.1:4010']);
  assert.throws(
    () => policyFromDeclared(['http://127.0.0.1:4010', 'https://api.intercom.io'], config, grant),
    /^Error: the component declared `https:\/\/api.intercom.io`, which the operator's grant does not include$/,
  );
  assert.throws(() => configGrant(config, ['https://evil.example']), /config names no such origin/);
  assert.throws(() => policyFromDeclared(['https://api.intercom.io'], config), /grant must be/);
});

test('https origins are admitted and nothing else', () => {
  const origins = policyFromDeclared(['https://api.intercom.io'], '{}', 'declared');
  assert.ok(admit(origins, 'https://api.intercom.io/admins?x=1').url);
  assert.match(admit(origins, 'https://evil.example/').denied, /not in the allow-list/);
  assert.ok(admit(origins, 'http://api.intercom.io/admins').denied);
  assert.ok(admit(origins, 'https://api.intercom.io:8443/').denied);
  assert.match(admit(origins, 'not a url').denied, /malformed/);
  assert.ok(admit(origins, 'file:///etc/passwd').denied);
});

test('loopback only when the config names it', () => {
  const config = '{"base_url":"http://127.0.0.1:4010/"}';
  const origins = policyFromDeclared(['http://127.0.0.1:4010'], config, 'declared');
  assert.ok(admit(origins, 'http://127.0.0.1:4010/me').url);
  assert.ok(admit(origins, 'http://127.0.0.1:4011/me').denied);
  assert.throws(() => policyFromDeclared(['http://127.0.0.1:22'], config, 'declared'), /does not name/);
  assert.throws(() => policyFromDeclared(['http://localhost:4010'], config, 'declared'), /does not name/);
  assert.throws(() => policyFromDeclared(['http://[::1]:4010'], config, 'declared'), /does not name/);
  assert.throws(() => policyFromDeclared(['http://example.com'], '{}', 'declared'), /plain http/);
  assert.throws(() => policyFromDeclared(['file:///etc/passwd'], '{}', 'declared'), /not an http\(s\) origin/);
  // Nested config values count; non-http strings name nothing.
  const nested = '{"a":{"b":["http://localhost:9/x"]},"c":"mailto:x@y"}';
  assert.deepEqual(policyFromDeclared(['http://LOCALHOST:9'], nested, 'declared'), ['http://localhost:9']);
});

// The same table as host/src/address_class.rs.
test('every private and local range is refused to its edges', () => {
  const inside = {
    '0.0.0.0': '0.0.0.0/8', '0.255.255.255': '0.0.0.0/8',
    '10.0.0.0': '10.0.0.0/8', '10.255.255.255': '10.0.0.0/8',
    '100.64.0.0': '100.64.0.0/10', '100.127.255.255': '100.64.0.0/10',
    '127.0.0.1': '127.0.0.0/8', '127.255.255.255': '127.0.0.0/8',
    '169.254.0.0': '169.254.0.0/16', '169.254.169.254': '169.254.0.0/16', '169.254.255.255': '169.254.0.0/16',
    '172.16.0.0': '172.16.0.0/12', '172.31.255.255': '172.16.0.0/12',
    '192.168.0.0': '192.168.0.0/16', '192.168.255.255': '192.168.0.0/16',
    '224.0.0.0': '224.0.0.0/4', '239.255.255.255': '224.0.0.0/4',
    '255.255.255.255': '255.255.255.255',
    '::': '::', '::1': '::1', '[::1]': '::1',
    'fc00::': 'fc00::/7', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff': 'fc00::/7',
    'fe80::': 'fe80::/10', 'fe80::1%eth0': 'fe80::/10', 'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff': 'fe80::/10',
    'fec0::': 'fec0::/10', 'feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff': 'fec0::/10',
    'ff00::': 'ff00::/8', 'ff02::1': 'ff00::/8', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff': 'ff00::/8',
  };
  for (const [address, range] of Object.entries(inside)) assert.equal(nonPublicRange(address), range, address);
  for (const address of [
    '1.0.0.0', '9.255.255.255', '11.0.0.0', '100.63.255.255', '100.128.0.0', '126.255.255.255',
    '128.0.0.0', '169.253.255.255', '169.255.0.0', '172.15.255.255', '172.32.0.0',
    '192.167.255.255', '192.169.0.0', '223.255.255.255', '240.0.0.0', '255.255.255.254',
    '8.8.8.8', '93.184.215.14',
    '2001:db8::1', '2606:4700::1111', 'fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'fe00::',
    'fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
  ]) {
    assert.equal(nonPublicRange(address), null, address);
  }
  assert.throws(() => nonPublicRange('rebind.example'), TypeError);
});

test('IPv6 forms are judged by the IPv4 they embed', () => {
  const forms = {
    '::ffff:10.0.0.1': '10.0.0.0/8', '::ffff:127.0.0.1': '127.0.0.0/8',
    '::ffff:a9fe:a9fe': '169.254.0.0/16', '::ffff:0.0.0.0': '0.0.0.0/8', '::ffff:8.8.8.8': null,
    '::10.0.0.1': '10.0.0.0/8', '::192.168.1.1': '192.168.0.0/16', '::0.0.0.2': '0.0.0.0/8', '::8.8.8.8': null,
    '64:ff9b::10.0.0.1': '10.0.0.0/8', '64:ff9b::a9fe:a9fe': '169.254.0.0/16',
    '64:ff9b::127.0.0.1': '127.0.0.0/8', '64:ff9b::8.8.8.8': null, '64:ff9b:1::a00:1': null,
    '2002:a00:1::': '10.0.0.0/8', '2002:a9fe:a9fe::1': '169.254.0.0/16', '2002:c0a8:101::': '192.168.0.0/16',
    '2002:7f00:1::': '127.0.0.0/8', '2002:e000::': '224.0.0.0/4', '2002:808:808::1': null,
  };
  for (const [address, range] of Object.entries(forms)) assert.equal(nonPublicRange(address), range, address);
});

/** A resolver answering every name with `addresses`, as a hostile DNS server could. */
const stub = (addresses) => (hostname, options, callback) =>
  callback(null, addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));

const lookUp = (lookup, options) =>
  new Promise((resolve) => lookup('rebind.example', options, (...result) => resolve(result)));

test('names resolving outside the public internet are refused', async () => {
  for (const address of ['10.0.0.1', '169.254.169.254', '::ffff:10.0.0.1']) {
    const [error] = await lookUp(publicOnlyLookup(stub([address])), {});
    assert.ok(error instanceof AddressDenied, address);
    assert.match(error.message, /rebind.example resolves only to addresses outside the public internet/);
  }
  // Mixed answers keep the public addresses, in either callback form.
  const mixed = publicOnlyLookup(stub(['10.0.0.1', 'fe80::1', '93.184.215.14']));
  assert.deepEqual(await lookUp(mixed, {}), [null, '93.184.215.14', 4]);
  assert.deepEqual(await lookUp(mixed, { all: true }), [null, [{ address: '93.184.215.14', family: 4 }]]);
});

test('a refused name is never connected to', async () => {
  // A name resolving to loopback, the one refused address a test may reach.
  let connections = 0;
  const server = http.createServer((req, res) => res.end('reached'));
  server.on('connection', () => connections++);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const error = await new Promise((resolve) => {
      const req = http.get({
        hostname: 'rebind.example',
        port: server.address().port,
        lookup: publicOnlyLookup(stub(['127.0.0.1'])),
      });
      req.on('error', resolve);
      req.on('response', () => resolve(null));
    });
    assert.ok(error instanceof AddressDenied, String(error));
    assert.equal(connections, 0);
  } finally {
    server.close();
  }
});

test('only origins the config names may reach private addresses', () => {
  const config = '{"base_url":"http://127.0.0.1:4010/"}';
  const origins = policyFromDeclared(['http://127.0.0.1:4010', 'https://api.intercom.io'], config, 'declared');
  assert.deepEqual(namedOrigins(origins, config), ['http://127.0.0.1:4010']);
});
