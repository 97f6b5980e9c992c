// Parsing server lists and conflict-copy names: the small pure helpers of the web client.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { conflictStamp, originalOfCopy } from '../sync/conflict-stamp.ts';
import { defaultServers, parseServers, serversMax } from './servers.ts';

test('server lists keep ws:// and wss:// URLs only, bounded', () => {
  assert.equal(parseServers(' ws://a:1, http://b:2,wss://c:3 ,,junk'), ['ws://a:1', 'wss://c:3']);
  assert.is(parseServers(Array.from({ length: serversMax + 5 }, (_, i) => `ws://h:${i}`).join(',')).length, serversMax);
  assert.equal(defaultServers('127.0.0.1'), ['ws://127.0.0.1:7001', 'ws://127.0.0.1:7002', 'ws://127.0.0.1:7003']);
});

test('conflict stamps and the names of conflict copies', () => {
  assert.is(conflictStamp(new Date(2026, 0, 2, 3, 4, 5)), '2026-01-02 030405');
  assert.is(originalOfCopy('a/b (conflicted copy from web-1 2026-01-02 030405).txt'), 'a/b.txt');
  assert.is(originalOfCopy('Makefile (conflicted copy from laptop 2026-01-02 030405 2)'), 'Makefile');
  assert.is(originalOfCopy('a/b.txt'), null);
});

test.run();
