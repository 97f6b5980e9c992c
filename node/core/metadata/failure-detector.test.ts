import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FailureDetector } from './failure-detector.ts';

const members = ['n1', 'n2', 'n3'];

test('a silent node is due down after the timeout, counted from when this node began to lead; a heard one is due up', () => {
  const detector = new FailureDetector(1500);
  const down = new Set<string>();
  assert.equal(detector.due(0, members, (n) => down.has(n)), [], 'a follower proposes nothing');
  detector.leading(true, 1000);
  for (const node of members) detector.heard(node, 1200, true);
  detector.heard('n9', 1200, false);
  detector.heard('n1', 2900, true);
  detector.heard('n3', 2900, true);
  assert.equal(detector.due(2700, members, (n) => down.has(n)), []);
  assert.equal(detector.due(2701, members, (n) => down.has(n)), [{ node: 'n2', change: 'down' }]);
  down.add('n2');
  assert.equal(detector.due(3000, members, (n) => down.has(n)), [], 'a down node stays down while silent');
  detector.heard('n2', 3100, true);
  assert.equal(detector.due(3100, members, (n) => down.has(n)), [{ node: 'n2', change: 'up' }]);
});

test('a new leader gives every node a full timeout, and never declares a down node up without hearing it', () => {
  const detector = new FailureDetector(1500);
  detector.leading(true, 10_000);
  assert.equal(detector.due(11_400, members, () => false), []);
  assert.equal(detector.due(11_400, members, (n) => n === 'n3'), [], 'n3 stays down until heard');
  detector.leading(false, 11_500);
  detector.leading(true, 20_000);
  assert.equal(detector.due(21_000, members, () => false), [], 'leadership lost and regained restarts the grace');
});

test.run();
