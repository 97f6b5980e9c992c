import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RingState } from './ring-state.ts';

test('a leaving node is placed on no more, and its drain count outlives its removal', () => {
  const ring = new RingState(['n1', 'n2', 'n3']);
  assert.ok(ring.join('n4', { url: 'ws://127.0.0.1:9', voter: true }));
  assert.equal(ring.live(), ['n1', 'n2', 'n3', 'n4']);
  const epoch = ring.epoch;
  assert.ok(ring.leave('n2', 40));
  assert.not.ok(ring.leave('n2', 7), 'a second leave changes nothing');
  assert.equal(ring.live(), ['n1', 'n3', 'n4']);
  assert.ok(ring.isMember('n2') && ring.isLeaving('n2'));
  assert.is(ring.drainedBlocks('n2'), 40);
  assert.is(ring.epoch, epoch + 1);
  assert.ok(ring.forget('n2'));
  assert.not.ok(ring.isMember('n2'));
  assert.is(ring.drainedBlocks('n2'), 40, 'a repeated remove-node is answered from the log');
  const restored = RingState.fromJSON(JSON.parse(JSON.stringify(ring.toJSON())), ['n1', 'n2', 'n3']);
  assert.equal(restored.toJSON(), ring.toJSON());
  assert.is(restored.drainedBlocks('n2'), 40);
  restored.join('n2', { url: 'ws://127.0.0.1:10', voter: true });
  assert.is(restored.drainedBlocks('n2'), null, 'a node that joins again starts afresh');
});

test('only the latest removed nodes are remembered', () => {
  const ring = new RingState(['n1']);
  for (let i = 0; i < 20; i++) {
    const node = `x${i}`;
    ring.join(node, { url: `ws://127.0.0.1:${1000 + i}`, voter: false });
    ring.leave(node, i);
    ring.forget(node);
  }
  assert.is(ring.drainedBlocks('x0'), null);
  assert.is(ring.drainedBlocks('x3'), null);
  assert.is(ring.drainedBlocks('x4'), 4);
  assert.is(ring.drainedBlocks('x19'), 19);
  assert.is(ring.toJSON().drained?.length, 16);
});

test('an older snapshot without drain counts restores', () => {
  const ring = RingState.fromJSON({ members: ['n1', 'n2'], down: ['n2'], epoch: 3, leaving: ['n1'] }, []);
  assert.equal(ring.live(), []);
  assert.is(ring.drainedBlocks('n1'), null);
  assert.is(ring.epoch, 3);
});

test.run();
