// The JS host's network rule matches the Rust host's (host/src/sandbox.rs
// tests). Run: node --test tests/js-host/
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { admit, policyFromDeclared } from './policy.mjs';

test('https origins are admitted and nothing else', () => {
  const origins = policyFromDeclared(['https://api.intercom.io'], '{}');
  assert.ok(admit(origins, 'https://api.intercom.io/admins?x=1').url);
  assert.match(admit(origins, 'https://evil.example/').denied, /not in the allow-list/);
  assert.ok(admit(origins, 'http://api.intercom.io/admins').denied);
  assert.ok(admit(origins, 'https://api.intercom.io:8443/').denied);
  assert.match(admit(origins, 'not a url').denied, /malformed/);
  assert.ok(admit(origins, 'file:///etc/passwd').denied);
});

test('loopback only when the config names it', () => {
  const config = '{"base_url":"http://127.0.0.1:4010/"}';
  const origins = policyFromDeclared(['http://127.0.0.1:4010'], config);
  assert.ok(admit(origins, 'http://127.0.0.1:4010/me').url);
  assert.ok(admit(origins, 'http://127.0.0.1:4011/me').denied);
  assert.throws(() => policyFromDeclared(['http://127.0.0.1:22'], config), /does not name/);
  assert.throws(() => policyFromDeclared(['http://localhost:4010'], config), /does not name/);
  assert.throws(() => policyFromDeclared(['http://[::1]:4010'], config), /does not name/);
  assert.throws(() => policyFromDeclared(['http://example.com'], '{}'), /plain http/);
  assert.throws(() => policyFromDeclared(['file:///etc/passwd'], '{}'), /not an http\(s\) origin/);
  // Nested config values count; non-http strings name nothing.
  const nested = '{"a":{"b":["http://localhost:9/x"]},"c":"mailto:x@y"}';
  assert.deepEqual(policyFromDeclared(['http://LOCALHOST:9'], nested), ['http://localhost:9']);
});
