import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PeerTraffic } from './peer-traffic.ts';

test('without chaos every message passes and is counted by type', () => {
  const traffic = new PeerTraffic(false);
  assert.is(traffic.outgoing('n2', { type: 'append' }, () => assert.unreachable()), false);
  assert.is(traffic.outgoing('n2', { type: 'append' }, () => assert.unreachable()), false);
  traffic.incoming({ type: 'heartbeat' });
  assert.is(traffic.sent, 2);
  assert.is(traffic.sentByType.get('append'), 2);
  assert.is(traffic.received, 1);
  assert.ok(traffic.lastLeaderContactMs !== null, 'a heartbeat counts as leader contact');
  assert.is(traffic.chaos(), null);
  assert.throws(() => traffic.setChaos({ cut: ['n2'], delayMs: {} }), /start it with --chaos/);
});

test('a cut link drops, a slowed link delivers later and in order, others pass', async () => {
  const traffic = new PeerTraffic(true);
  traffic.setChaos({ cut: ['n2'], delayMs: { n3: 30 } });
  assert.is(traffic.outgoing('n2', { type: 'vote' }, () => assert.unreachable()), true);
  assert.is(traffic.dropped, 1);
  const delivered: number[] = [];
  for (const seq of [1, 2, 3]) {
    // The resend goes through `outgoing` again, as node.ts does; it must pass then.
    const send = (): void => {
      assert.is(traffic.outgoing('n3', { type: 'append' }, () => assert.unreachable()), false);
      delivered.push(seq);
    };
    assert.is(traffic.outgoing('n3', { type: 'append' }, send), true);
  }
  assert.equal(delivered, []);
  await new Promise((done) => setTimeout(done, 80));
  assert.equal(delivered, [1, 2, 3]);
  assert.is(traffic.outgoing('n4', { type: 'append' }, () => assert.unreachable()), false);
  assert.equal(traffic.chaos(), { cut: ['n2'], delayMs: { n3: 30 } });
  assert.throws(() => traffic.setChaos({ cut: [], delayMs: { n3: 60_000 } }), /between 0 and/);
  traffic.setChaos({ cut: [], delayMs: {} });
  assert.is(traffic.outgoing('n2', { type: 'vote' }, () => assert.unreachable()), false);
  traffic.close();
});

test.run();
