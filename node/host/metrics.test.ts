import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeCommand } from '../core/metadata/commands.ts';
import { MetadataStateMachine } from '../core/metadata/state-machine.ts';
import { RegistryCounts, registryRecountMs } from './metrics.ts';

const h = (n: number): string => n.toString(16).padStart(64, '0');

test('registry counts are reused while the registry is unchanged, and redone at most once a second while it changes', () => {
  const machine = new MetadataStateMachine({ ringMembers: ['n1', 'n2', 'n3'] });
  let index = 0;
  let seq = 0;
  const register = (n: number, owners: string[]) => machine.apply({ term: 1, index: ++index, type: 'normal', data: encodeCommand({ kind: 'register', client: 'c', seq: ++seq, blocks: [{ hash: h(n), size: 1, owners }] }) });
  let walks = 0;
  const counted = machine.registryCounts.bind(machine);
  machine.registryCounts = (replication) => (walks++, counted(replication));
  const counts = new RegistryCounts(machine, 3);
  register(1, ['n1', 'n2', 'n3']);
  register(2, ['n1']);
  assert.equal(counts.get(0), { blocks: 2, underReplicated: 1 });
  assert.equal(counts.get(10 * registryRecountMs), { blocks: 2, underReplicated: 1 });
  assert.is(walks, 1, 'an unchanged registry is not walked again, however late');
  const t = 10 * registryRecountMs;
  register(3, ['n2']);
  assert.equal(counts.get(t), { blocks: 3, underReplicated: 2 }, 'changed, and the last count is old: counted again');
  register(4, ['n3']);
  assert.equal(counts.get(t + registryRecountMs - 1), { blocks: 3, underReplicated: 2 }, 'within a second of the last count: the old counts');
  assert.equal(counts.get(t + registryRecountMs), { blocks: 4, underReplicated: 3 }, 'a second after it: the new ones');
  assert.is(walks, 3);
});

test.run();
