import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import type { Env, LogLevel, Storage } from '../actor/env.ts';
import { PlacementRing } from '../../../protocol/ring.ts';
import type { RequestMessage, ResponseMessage, Request } from '../../../protocol/wire.ts';
import { blockActorDefaults, BlockActor, type BlockActorOptions } from './block-actor.ts';
import { encodeRecordHeader, packedBlocks, packedCopy, packFile, parsePack } from './pack-format.ts';
import { concatBytes } from '../../../protocol/bytes.ts';
import type { BlockDirectory } from './block-directory.ts';

// ---------------------------------------------------------------- a tiny deterministic world

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

interface Envelope {
  to: string;
  message: unknown;
}

/** In-memory storage: appends become durable (visible to reads) when the world delivers their sync's completion. */
class MemoryStorage implements Storage {
  files = new Map<string, Uint8Array>();
  private cached = new Map<string, Uint8Array[]>();
  syncs = 0;
  diskFull = false;
  constructor(private readonly world: World, private readonly self: string) {}
  append(file: string, bytes: Uint8Array): void {
    const cached = this.cached.get(file) ?? [];
    cached.push(bytes.slice());
    this.cached.set(file, cached);
  }
  sync(file: string, done: unknown): void {
    const chunks = this.cached.get(file) ?? [];
    this.cached.delete(file);
    this.syncs++;
    if (this.diskFull) {
      this.world.queue.push({ to: this.self, message: { type: 'storage.failed', done, code: 'disk_full', message: 'ENOSPC: no space left on device' } });
      return;
    }
    // The bytes land when the completion is pumped, as a real fdatasync would before the ack.
    const apply = () => this.files.set(file, concatBytes([this.files.get(file) ?? new Uint8Array(0), ...chunks]));
    this.world.queue.push({ to: this.self, message: { type: '__apply', apply, done } });
  }
  truncate(): void {
    throw new Error('block actor must not truncate');
  }
  put(): void {
    throw new Error('block actor must not put');
  }
  read(file: string): Uint8Array | null {
    return this.files.get(file)?.slice() ?? null;
  }
  readRange(file: string, offset: number, length: number): Uint8Array | null {
    return this.files.get(file)?.slice(offset, offset + length) ?? null;
  }
  /** The bytes come with the next pump, read then, as a real read may see a removal made meanwhile. */
  readRangeLater(file: string, offset: number, length: number, done: object): void {
    const read: { data: Uint8Array | null } = { ...done, data: null };
    this.world.queue.push({ to: this.self, message: { type: '__apply', apply: () => (read.data = this.readRange(file, offset, length)), done: read } });
  }
  size(file: string): number | null {
    return this.files.get(file)?.byteLength ?? null;
  }
  remove(file: string): void {
    this.files.delete(file);
  }
  list(prefix: string): string[] {
    return [...this.files.keys()].filter((f) => f.startsWith(prefix)).sort();
  }

  /** The bytes held for `hash`, read back from the packs as a restarted node would. */
  copy(hash: string): Uint8Array | null {
    return packedCopy(this, hash);
  }
  /** How many records of block `hash` the packs hold, live or not. */
  records(hash: string): number {
    return this.list('packs/').reduce((count, file) => count + parsePack(this.files.get(file)!).records.filter((r) => r.kind === 'block' && r.hash === hash).length, 0);
  }
  /** Flip a bit of the held copy of `hash`, as a failing disk would. */
  rot(hash: string): void {
    const location = packedBlocks(this).get(hash)!;
    this.files.get(packFile(location.pack))![location.offset]! ^= 0x01;
  }
  /** Lose the pack file holding `hash`, behind the actor's back. */
  lose(hash: string): void {
    this.files.delete(packFile(packedBlocks(this).get(hash)!.pack));
  }
  /** A pack holding these blocks, as left by an earlier run, followed by `tail`. */
  preload(blocks: { hash: string; data: Uint8Array }[], tail: Uint8Array = new Uint8Array(0)): void {
    const seq = this.list('packs/').length + 1;
    this.files.set(packFile(seq), concatBytes([...blocks.flatMap((b) => [encodeRecordHeader('block', b.hash, b.data.byteLength), b.data]), tail]));
  }
}

class World {
  nowMs = 0;
  queue: Envelope[] = [];
  timers: { at: number; id: number; to: string; message: unknown }[] = [];
  nextTimer = 1;
  actors = new Map<string, BlockActor>();
  storages = new Map<string, MemoryStorage>();
  logs: { node: string; level: LogLevel; event: string; fields?: Record<string, unknown> }[] = [];
  inbox = new Map<string, unknown[]>();
  registers: { node: string; request: Extract<Request, { op: 'blocks.register' }> }[] = [];
  releases: { node: string; hashes: string[] }[] = [];
  stats = new Map<string, { blocks: number; bytes: number }>();
  silent = new Set<string>();
  /** Answers the fake metadata actor gives to blocks.register, in order; then `ok` forever. */
  registerAnswers: ('ok' | 'fail' | 'drop')[] = [];
  seed = 1;
  /** Lets a test garble messages in flight. */
  tamper: (envelope: Envelope) => void = () => {};

  constructor(readonly nodes: string[], options: Partial<BlockActorOptions> | ((node: string) => Partial<BlockActorOptions>) = {}, preload: (node: string, storage: MemoryStorage) => void = () => {}) {
    for (const node of nodes) {
      const self = `${node}/blocks`;
      const storage = new MemoryStorage(this, self);
      preload(node, storage);
      this.storages.set(node, storage);
      const own = typeof options === 'function' ? options(node) : options;
      this.actors.set(self, new BlockActor(this.env(node, self, storage), { node, nodes, sha256, ...own }));
    }
  }

  env(node: string, self: string, storage: Storage): Env {
    return {
      self,
      now: () => this.nowMs,
      random: () => ((this.seed = (this.seed * 16807) % 2147483647) / 2147483647),
      send: (to, message) => this.queue.push({ to, message }),
      timer: (delayMs, message) => {
        const id = this.nextTimer++;
        this.timers.push({ at: this.nowMs + delayMs, id, to: self, message });
        return id;
      },
      cancel: (id) => {
        this.timers = this.timers.filter((t) => t.id !== id);
      },
      storage,
      log: (level, event, fields) => this.logs.push({ node, level, event, fields }),
    };
  }

  /** Deliver queued messages (and storage completions) until none are left; time stands still. */
  pump(): void {
    for (let steps = 0; this.queue.length > 0; steps++) {
      if (steps > 100_000) throw new Error('message storm');
      this.deliver(this.queue.shift()!);
    }
  }

  /** Pump, then let time pass timer by timer, until nothing is left to do or `limitMs` passes. */
  run(limitMs = 60_000): void {
    const end = this.nowMs + limitMs;
    this.pump();
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > end) return;
      this.timers.shift();
      this.nowMs = next.at;
      this.deliver({ to: next.to, message: next.message });
      this.pump();
    }
  }

  private deliver({ to, message }: Envelope): void {
    if (this.silent.has(to)) return;
    this.tamper({ to, message });
    const actor = this.actors.get(to);
    if (actor) {
      const m = message as { type: string; apply?: () => void; done?: unknown } | null;
      if (m?.type === '__apply') {
        m.apply!();
        actor.receive(m.done);
      } else actor.receive(message);
      // The host calls drained once the actor's mailbox is empty.
      if (!this.queue.some((e) => e.to === to)) actor.drained();
      return;
    }
    if (this.nodes.includes(to)) return this.metadata(to, message);
    const box = this.inbox.get(to) ?? [];
    box.push(message);
    this.inbox.set(to, box);
  }

  // A stand-in for the node's metadata actor: records stats, answers blocks.register.
  private metadata(node: string, message: unknown): void {
    const m = message as { type: string };
    if (m.type === 'blocks.stats') {
      const { blocks, bytes } = message as { blocks: number; bytes: number };
      this.stats.set(node, { blocks, bytes });
      return;
    }
    const request = message as RequestMessage;
    assert.is(request.type, 'request');
    if (request.request.op === 'blocks.release') {
      this.releases.push({ node, hashes: request.request.blocks.map((b) => b.hash) });
      this.queue.push({ to: request.from, message: { type: 'response', id: request.id, ok: true, result: { released: request.request.blocks.length } } satisfies ResponseMessage });
      return;
    }
    assert.is(request.request.op, 'blocks.register');
    this.registers.push({ node, request: request.request as Extract<Request, { op: 'blocks.register' }> });
    const answer = this.registerAnswers.shift() ?? 'ok';
    if (answer === 'drop') return;
    const response: ResponseMessage =
      answer === 'ok'
        ? { type: 'response', id: request.id, ok: true, result: { registered: 1 } }
        : { type: 'response', id: request.id, ok: false, error: { code: 'unavailable', message: 'no leader' } };
    this.queue.push({ to: request.from, message: response });
  }

  request(node: string, id: number, request: Request, from = 'client/1'): void {
    this.queue.push({ to: `${node}/blocks`, message: { type: 'request', from, id, hops: 0, request } satisfies RequestMessage });
  }

  response(id: number, from = 'client/1'): ResponseMessage {
    const found = (this.inbox.get(from) ?? []).filter((m) => (m as ResponseMessage).id === id) as ResponseMessage[];
    assert.is(found.length, 1, `expected exactly one response to request ${id}, got ${found.length}`);
    return found[0]!;
  }

  /** Whether request `id` has been answered yet. */
  answered(id: number, from = 'client/1'): boolean {
    return (this.inbox.get(from) ?? []).some((m) => (m as ResponseMessage).id === id);
  }

  holders(hash: string): string[] {
    return this.nodes.filter((n) => this.storages.get(n)!.copy(hash) !== null);
  }
}

function block(text: string): { hash: string; data: Uint8Array } {
  const data = new TextEncoder().encode(text);
  return { hash: sha256(data), data };
}

function ok(response: ResponseMessage): unknown {
  if (!response.ok) assert.unreachable(`expected success, got ${response.error.code}: ${response.error.message}`);
  return (response as { result: unknown }).result;
}

function errorOf(response: ResponseMessage) {
  if (response.ok) assert.unreachable('expected an error, got success');
  return (response as { error: { code: string; message: string } }).error;
}

const nodes = ['n1', 'n2', 'n3'];

// ---------------------------------------------------------------- puts

test('a put is stored on all 3 nodes and registered once with all of them as owners', () => {
  const world = new World(nodes);
  const { hash, data } = block('hello raftbox');
  world.request('n1', 1, { op: 'blocks.put', hash, data });
  world.run();
  assert.equal(ok(world.response(1)), { replicas: 3 });
  assert.equal(world.holders(hash), nodes);
  for (const n of nodes) assert.equal(world.storages.get(n)!.copy(hash), data);
  assert.is(world.registers.length, 1);
  const registered = world.registers[0]!.request;
  assert.is(world.registers[0]!.node, 'n1');
  assert.equal(registered.blocks, [{ hash, size: data.byteLength, owners: new PlacementRing(nodes).owners(hash, 3) }]);
  assert.is(registered.seq, 1);
  for (const n of nodes) assert.equal(world.stats.get(n), { blocks: 1, bytes: data.byteLength });
});

test('a put-many batch is copied with one message per peer and answered with an outcome per block', () => {
  const world = new World(nodes);
  const good = Array.from({ length: 20 }, (_, i) => block(`small file ${i}`));
  const forged = { hash: block('the name').hash, data: new TextEncoder().encode('other bytes') };
  const replicates: { to: string; blocks: number }[] = [];
  world.tamper = ({ to, message }) => {
    const m = message as { type?: string; blocks?: unknown[] };
    if (m.type === 'block.replicate') replicates.push({ to, blocks: m.blocks!.length });
  };
  world.request('n1', 1, { op: 'blocks.put-many', blocks: [...good.slice(0, 10), forged, ...good.slice(10)] });
  world.run();
  const { outcomes } = ok(world.response(1)) as { outcomes: ({ replicas: number } | { error: { code: string } })[] };
  assert.is(outcomes.length, 21);
  assert.equal(outcomes.map((o) => ('error' in o ? o.error.code : o.replicas)), [...Array(10).fill(3), 'hash_mismatch', ...Array(10).fill(3)]);
  for (const { hash, data } of good) for (const n of nodes) assert.equal(world.storages.get(n)!.copy(hash), data);
  assert.equal(world.holders(forged.hash), []);
  assert.equal(replicates.sort((a, b) => a.to.localeCompare(b.to)), [{ to: 'n2/blocks', blocks: 20 }, { to: 'n3/blocks', blocks: 20 }]);
  assert.is(world.registers.length, 1, 'the batch is registered in one request');
  assert.is(world.registers[0]!.request.blocks.length, 20);
});

test('an empty put-many or replicate is answered at once, with no outcomes', () => {
  const world = new World(nodes);
  world.request('n1', 1, { op: 'blocks.put-many', blocks: [] });
  world.queue.push({ to: 'n2/blocks', message: { type: 'block.replicate', from: 'peer/blocks', id: 4, blocks: [] } });
  world.run();
  assert.equal(ok(world.response(1)), { outcomes: [] });
  assert.equal(world.inbox.get('peer/blocks'), [{ type: 'block.replicated', from: 'n2/blocks', id: 4, outcomes: [] }]);
});

test('copies for one peer are split across messages at replicateBatchBytesMax', () => {
  const world = new World(nodes, { replicateBatchBytesMax: 100 });
  const blocks = Array.from({ length: 5 }, (_, i) => ({ ...block(`${i}`.repeat(40)) }));
  const replicates: number[] = [];
  world.tamper = ({ to, message }) => {
    const m = message as { type?: string; blocks?: unknown[] };
    if (m.type === 'block.replicate' && to === 'n2/blocks') replicates.push(m.blocks!.length);
  };
  world.request('n1', 1, { op: 'blocks.put-many', blocks });
  world.run();
  const { outcomes } = ok(world.response(1)) as { outcomes: { replicas: number }[] };
  assert.equal(outcomes, Array(5).fill({ replicas: 3 }));
  assert.equal(replicates, [2, 2, 1], '40-byte blocks, at most 100 bytes a message');
});

test('the put is answered only after the registration is acknowledged', () => {
  const world = new World(nodes);
  world.registerAnswers = ['drop'];
  const { hash, data } = block('wait for the leader');
  world.request('n2', 1, { op: 'blocks.put', hash, data });
  world.pump();
  assert.is(world.registers.length, 1);
  assert.is(world.inbox.get('client/1'), undefined, 'no answer before registration');
  world.run();
  assert.is(world.registers.length, 2, 'the unanswered registration was retried');
  assert.is(world.registers[1]!.request.seq, world.registers[0]!.request.seq, 'a retry keeps its seq');
  assert.is(world.registers[1]!.request.client, world.registers[0]!.request.client);
  assert.equal(ok(world.response(1)), { replicas: 3 });
});

test('a block whose bytes do not hash to its name is refused and stored nowhere', () => {
  const world = new World(nodes);
  const { hash } = block('the real bytes');
  world.request('n1', 7, { op: 'blocks.put', hash, data: new TextEncoder().encode('other bytes') });
  world.run();
  const error = errorOf(world.response(7));
  assert.is(error.code, 'hash_mismatch');
  assert.match(error.message, hash);
  assert.equal(world.holders(hash), []);
  assert.is(world.registers.length, 0);
});

test('bad names and oversized blocks are refused as bad_message', () => {
  const world = new World(nodes);
  world.request('n1', 1, { op: 'blocks.put', hash: 'ABC', data: new Uint8Array(1) });
  const big = new Uint8Array(4 * 1024 * 1024 + 1);
  world.request('n1', 2, { op: 'blocks.put', hash: sha256(big), data: big });
  world.request('n1', 3, { op: 'blocks.get', hash: '../etc/passwd' });
  world.run();
  for (const id of [1, 2, 3]) assert.is(errorOf(world.response(id)).code, 'bad_message');
  assert.match(errorOf(world.response(2)).message, '4194304');
});

test('concurrent puts of one hash share one flow: one write per node, one registration', () => {
  const world = new World(nodes);
  const { hash, data } = block('popular block');
  for (let id = 1; id <= 5; id++) world.request('n1', id, { op: 'blocks.put', hash, data });
  world.run();
  for (let id = 1; id <= 5; id++) assert.equal(ok(world.response(id)), { replicas: 3 });
  for (const n of nodes) assert.is(world.storages.get(n)!.records(hash), 1, `${n} wrote once`);
  assert.is(world.registers.length, 1);
  // A later put of a block already stored verifies the copies instead of writing again.
  world.request('n1', 6, { op: 'blocks.put', hash, data });
  world.run();
  assert.equal(ok(world.response(6)), { replicas: 3 });
  for (const n of nodes) assert.is(world.storages.get(n)!.records(hash), 1);
  assert.equal(world.stats.get('n1'), { blocks: 1, bytes: data.byteLength });
});

test('blocks stored while a registration is in flight go together in the next one', () => {
  const world = new World(nodes);
  world.registerAnswers = ['drop'];
  const first = block('first');
  world.request('n1', 1, { op: 'blocks.put', ...first });
  world.pump();
  const later = ['a', 'b', 'c', 'd'].map(block);
  later.forEach((b, i) => world.request('n1', 10 + i, { op: 'blocks.put', ...b }));
  world.run();
  assert.equal(ok(world.response(1)), { replicas: 3 });
  for (let i = 0; i < later.length; i++) assert.equal(ok(world.response(10 + i)), { replicas: 3 });
  const seqs = world.registers.map((r) => r.request.seq);
  assert.equal(seqs, [1, 1, 2], 'first batch sent, retried once, then one batch with the rest');
  assert.equal(world.registers[2]!.request.blocks.map((b) => b.hash).sort(), later.map((b) => b.hash).sort());
});

test('a registration that keeps failing fails the put with unavailable after the retries', () => {
  const world = new World(nodes, { registerRetriesMax: 2 });
  world.registerAnswers = ['fail', 'fail', 'fail'];
  const { hash, data } = block('no leader today');
  world.request('n1', 1, { op: 'blocks.put', hash, data });
  world.run();
  assert.is(world.registers.length, 3);
  assert.ok(world.registers.every((r) => r.request.seq === 1));
  const error = errorOf(world.response(1));
  assert.is(error.code, 'unavailable');
  assert.match(error.message, 'no leader');
});

test('a silent node is suspected; the put succeeds with 2 copies whose owners are the 2 that answered', () => {
  const world = new World(nodes);
  world.silent.add('n3/blocks');
  const { hash, data } = block('one node is down');
  world.request('n1', 1, { op: 'blocks.put', hash, data });
  world.run();
  assert.equal(ok(world.response(1)), { replicas: 2 });
  assert.is(world.registers.length, 1);
  const owners = world.registers[0]!.request.blocks[0]!.owners;
  assert.is(owners.length, 2);
  assert.equal([...owners].sort(), ['n1', 'n2']);
  assert.ok(world.logs.some((l) => l.event === 'blocks.node-suspected' && l.fields?.node === 'n3'));
  // While suspected, the next put does not wait for n3 at all: it completes with no time passing.
  const next = block('second block');
  const before = world.nowMs;
  world.request('n1', 2, { op: 'blocks.put', ...next });
  world.pump();
  assert.equal(ok(world.response(2)), { replicas: 2 });
  assert.is(world.nowMs, before);
});

test('sloppy placement: with 4 nodes, a silent owner is replaced by the next node in preference order', () => {
  const four = ['n1', 'n2', 'n3', 'n4'];
  const world = new World(four);
  const ring = new PlacementRing(four);
  const { hash, data } = block('sloppy');
  const preference = ring.preference(hash);
  const silent = preference.find((n) => n !== 'n1')!;
  world.silent.add(`${silent}/blocks`);
  world.request('n1', 1, { op: 'blocks.put', hash, data });
  world.run();
  assert.equal(ok(world.response(1)), { replicas: 3 });
  const expected = preference.filter((n) => n !== silent);
  assert.equal(world.registers[0]!.request.blocks[0]!.owners, expected);
  assert.equal(world.holders(hash).sort(), [...expected].sort());
});

test('fewer than a majority of copies is unavailable', () => {
  const world = new World(nodes);
  world.silent.add('n2/blocks');
  world.silent.add('n3/blocks');
  const { hash, data } = block('alone');
  world.request('n1', 1, { op: 'blocks.put', hash, data });
  world.run();
  const error = errorOf(world.response(1));
  assert.is(error.code, 'unavailable');
  assert.match(error.message, 'did not answer');
  assert.is(world.registers.length, 0);
});

test('a full disk on the coordinating node fails the put with disk_full and counts nothing', () => {
  const world = new World(nodes);
  world.storages.get('n1')!.diskFull = true;
  const { hash, data } = block('no room');
  world.request('n1', 1, { op: 'blocks.put', hash, data });
  world.run();
  const error = errorOf(world.response(1));
  assert.is(error.code, 'disk_full');
  assert.match(error.message, /disk of node n1 is full/);
  assert.is(world.registers.length, 0);
  assert.equal(world.stats.get('n1'), { blocks: 0, bytes: 0 });
  assert.is(world.storages.get('n1')!.copy(hash), null);
});

test('a replica whose disk is full is passed over like any node that cannot take a copy', () => {
  const four = ['n1', 'n2', 'n3', 'n4'];
  const world = new World(four);
  const { hash, data } = block('full replica');
  const full = new PlacementRing(four).preference(hash).find((n) => n !== 'n1')!;
  world.storages.get(full)!.diskFull = true;
  world.request('n1', 1, { op: 'blocks.put', hash, data });
  world.run();
  assert.equal(ok(world.response(1)), { replicas: 3 });
  assert.not.ok(world.registers[0]!.request.blocks[0]!.owners.includes(full));
});

test('more puts than putsInFlightMax are refused as overloaded', () => {
  const world = new World(nodes, { putsInFlightMax: 2 });
  ['x', 'y', 'z'].forEach((text, i) => world.request('n1', i + 1, { op: 'blocks.put', ...block(text) }));
  world.run();
  assert.ok(world.response(1).ok);
  assert.ok(world.response(2).ok);
  assert.is(errorOf(world.response(3)).code, 'overloaded');
});

// ---------------------------------------------------------------- gets

test('a get answers the verified local copy', () => {
  const world = new World(nodes);
  const { hash, data } = block('read me');
  world.request('n1', 1, { op: 'blocks.put', hash, data });
  world.run();
  world.request('n2', 2, { op: 'blocks.get', hash });
  world.pump();
  assert.equal(ok(world.response(2)), { data });
});

test('a get reads its local copy off the actor\'s thread; a copy whose pack goes meanwhile is served from a peer', () => {
  const world = new World(nodes);
  const { hash, data } = block('read me later');
  world.request('n1', 1, { op: 'blocks.put', hash, data });
  world.run();
  let answeredBeforeRead: boolean | null = null;
  world.tamper = ({ to, message }) => {
    const m = message as { type?: string; done?: { type?: string } };
    if (to !== 'n1/blocks' || m.type !== '__apply' || m.done?.type !== 'blocks.read-done' || answeredBeforeRead !== null) return;
    // The read is still under way: nothing has been answered, and the pack it reads is lost now.
    answeredBeforeRead = world.answered(2);
    world.storages.get('n1')!.lose(hash);
  };
  world.request('n1', 2, { op: 'blocks.get', hash });
  world.run();
  assert.is(answeredBeforeRead, false);
  assert.equal(ok(world.response(2)), { data });
});

test('a get falls back to a replica when the local copy is corrupt, and warns', () => {
  const world = new World(nodes);
  const { hash, data } = block('will rot');
  world.request('n1', 1, { op: 'blocks.put', hash, data });
  world.run();
  world.storages.get('n1')!.rot(hash);
  world.request('n1', 2, { op: 'blocks.get', hash });
  world.run();
  assert.equal(ok(world.response(2)), { data });
  assert.ok(world.logs.some((l) => l.node === 'n1' && l.level === 'warn' && l.event === 'blocks.corrupt'));
});

test('a get skips a peer that serves a corrupt copy and one that stays silent', () => {
  const world = new World(nodes);
  const { hash, data } = block('hard to find');
  world.request('n1', 1, { op: 'blocks.put', hash, data });
  world.run();
  world.storages.get('n1')!.lose(hash);
  const [first, second] = new PlacementRing(nodes).preference(hash).filter((n) => n !== 'n1');
  world.storages.get(first!)!.rot(hash);
  world.request('n1', 2, { op: 'blocks.get', hash });
  world.run();
  assert.equal(ok(world.response(2)), { data });
  world.silent.add(`${second}/blocks`);
  world.request('n1', 3, { op: 'blocks.get', hash });
  world.run();
  assert.is(errorOf(world.response(3)).code, 'unavailable', 'a silent node may still hold it');
});

test('a copy garbled on the way from a peer is not served; the next peer is asked', () => {
  const world = new World(nodes);
  const { hash, data } = block('garbled in flight');
  world.request('n1', 1, { op: 'blocks.put', hash, data });
  world.run();
  world.storages.get('n1')!.lose(hash);
  const [first] = new PlacementRing(nodes).preference(hash).filter((n) => n !== 'n1');
  world.tamper = ({ message }) => {
    const m = message as { type: string; from: string; data: Uint8Array | null };
    if (m.type === 'block.fetched' && m.from === `${first}/blocks` && m.data) m.data[0]! ^= 1;
  };
  world.request('n1', 2, { op: 'blocks.get', hash });
  world.run();
  assert.equal(ok(world.response(2)), { data });
  assert.ok(world.logs.some((l) => l.event === 'blocks.corrupt-remote' && l.fields?.node === first));
});

test('a get of a block no node holds is not_found', () => {
  const world = new World(nodes);
  const { hash } = block('never stored');
  world.request('n1', 1, { op: 'blocks.get', hash });
  world.run();
  const error = errorOf(world.response(1));
  assert.is(error.code, 'not_found');
  assert.match(error.message, hash);
});

// ---------------------------------------------------------------- start-up, peers, the rest

test('at start the actor counts the blocks in its packs, ignores a torn tail and other files, and reports them', () => {
  const one = block('old one');
  const two = block('old two');
  const torn = encodeRecordHeader('block', block('torn').hash, 4).subarray(0, 30);
  const world = new World(nodes, {}, (node, storage) => {
    if (node !== 'n1') return;
    storage.preload([one, two], torn);
    storage.files.set('packs/notes.txt', new Uint8Array(9));
  });
  // The count goes out after the first stats interval, when the metadata actor listens.
  world.run(blockActorDefaults.statsIntervalMs);
  assert.equal(world.stats.get('n1'), { blocks: 2, bytes: one.data.byteLength + two.data.byteLength });
  assert.equal(world.stats.get('n2'), { blocks: 0, bytes: 0 });
});

test('a peer replicate stores each good block and refuses one with a wrong hash with hash_mismatch', () => {
  const world = new World(nodes);
  const { hash } = block('real');
  const good = block('good');
  const blocks = [{ hash, data: new Uint8Array([1]) }, good];
  world.queue.push({ to: 'n2/blocks', message: { type: 'block.replicate', from: 'peer/blocks', id: 9, blocks } });
  world.pump();
  const [reply, extra] = world.inbox.get('peer/blocks') as { id: number; outcomes: { ok: boolean; error?: { code: string } }[] }[];
  assert.is(extra, undefined, 'one answer for the whole batch');
  assert.is(reply!.id, 9);
  assert.equal(reply!.outcomes.map((outcome) => [outcome.ok, outcome.error?.code]), [[false, 'hash_mismatch'], [true, undefined]]);
  assert.equal(world.holders(hash), []);
  assert.equal(world.holders(good.hash), ['n2']);
});

// ---------------------------------------------------------------- surplus copies

/** One node's view of the registry: `hash` owned by every node, `down` declared down. */
function directoryView(hash: string, size: number, all: string[], down: string[]): BlockDirectory {
  return {
    blocksVersion: 1,
    ringEpoch: 1,
    liveNodes: () => all.filter((node) => !down.includes(node)),
    ringMembers: () => all,
    isDown: (node) => down.includes(node),
    block: (asked) => (asked === hash ? { size, owners: [...all] } : null),
    blocks: () => [[hash, { size, owners: all }]],
    ownersChangedSince: () => null,
  };
}

/** A registry of `held` blocks, each owned by `owners`, on a ring of `all` nodes with none down. */
function registryView(held: { hash: string; data: Uint8Array }[], owners: string[], all: string[]): BlockDirectory {
  const registry = new Map(held.map(({ hash, data }) => [hash, { size: data.byteLength, owners }]));
  return { ...directoryView(held[0]!.hash, 0, all, []), block: (hash) => registry.get(hash) ?? null, blocks: () => registry.entries() };
}

/**
 * A registry of `held` blocks (owned by every node) that learns one more, `late`, once
 * `learn` is called, after the scans at start: like a registry catching up with the log.
 * `wholeScans` counts the walks of every block.
 */
function catchingUpDirectory(
  held: { hash: string; data: Uint8Array }[],
  late: { hash: string; data: Uint8Array },
): { directory: BlockDirectory; learn(owners: string[]): void; readonly wholeScans: number } {
  const registry = new Map(held.map(({ hash, data }) => [hash, { size: data.byteLength, owners: nodes }]));
  let version = 1;
  let wholeScans = 0;
  const directory: BlockDirectory = {
    get blocksVersion() {
      return version;
    },
    ringEpoch: 1,
    liveNodes: () => nodes,
    ringMembers: () => nodes,
    isDown: () => false,
    block: (hash) => {
      const known = registry.get(hash);
      return known ? { size: known.size, owners: [...known.owners] } : null;
    },
    blocks: () => {
      wholeScans++;
      return registry.entries();
    },
    ownersChangedSince: (since) => (since === 1 && version === 2 ? [late.hash] : since === version ? [] : null),
  };
  return {
    directory,
    learn: (owners) => {
      registry.set(late.hash, { size: late.data.byteLength, owners });
      version = 2;
    },
    get wholeScans() {
      return wholeScans;
    },
  };
}

test('after its first full scan, a repairer looks only at the blocks whose owners changed', () => {
  const held = Array.from({ length: 500 }, (_, i) => block(`held by all ${i}`));
  const fresh = block('registered with two copies');
  const view = catchingUpDirectory(held, fresh);
  const world = new World(nodes, { directory: view.directory }, (node, storage) => storage.preload(node === 'n3' ? held : [...held, fresh]));
  world.run(500);
  assert.is(view.wholeScans, 3, 'one full scan per node at start');
  view.learn(['n1', 'n2']);
  world.run(2000);
  assert.equal(world.holders(fresh.hash), nodes, 'n3 copied the new block');
  assert.is(view.wholeScans, 3, 'no scan of the whole registry after the change');
  assert.ok(world.registers.some(({ node, request }) => node === 'n3' && request.blocks.some((b) => b.hash === fresh.hash && b.owners.includes('n3'))));
});

test('a scan of every block goes a slice of repairScanSliceBlocks per tick, so it never holds the node up for the whole registry', () => {
  const held = Array.from({ length: 50 }, (_, i) => block(`on n1 and n2 only ${i}`));
  const directory = registryView(held, ['n1', 'n2'], nodes);
  const world = new World(nodes, { directory, repairTickMs: 100, repairScanSliceBlocks: 10 }, (node, storage) => storage.preload(node === 'n3' ? [] : held));
  const onN3 = (): number => held.filter(({ hash }) => world.holders(hash).includes('n3')).length;
  const perTick = Array.from({ length: 6 }, () => {
    world.run(100);
    return onN3();
  });
  // n3 is a target of every block (R=3 on 3 nodes): each tick's slice finds 10 more to copy.
  assert.equal(perTick, [10, 20, 30, 40, 50, 50]);
});

test('soon after start, a changed block the registry says this node holds but its disk lacks is fetched again, without a whole scan', () => {
  for (const startupChecksMs of [10_000, 0]) {
    const held = Array.from({ length: 50 }, (_, i) => block(`held by all ${i}`));
    const lost = block('registered on all three, lost by n3');
    const view = catchingUpDirectory(held, lost);
    const world = new World(nodes, { directory: view.directory, repairStartupChecksMs: startupChecksMs }, (node, storage) => storage.preload(node === 'n3' ? held : [...held, lost]));
    world.run(500);
    // The entry naming n3 an owner applies only now, after the scans at start.
    view.learn(nodes);
    world.run(2000);
    assert.is(view.wholeScans, 3, 'one full scan per node at start, none after');
    if (startupChecksMs > 0) assert.equal(world.holders(lost.hash), nodes, 'n3 fetched its lost copy');
    else assert.equal(world.holders(lost.hash), ['n1', 'n2'], 'past the start-up window, only the periodic full scan checks own copies');
  }
});

test('a copy no target needs is given up, through the log first, once every target confirms', () => {
  const four = ['n1', 'n2', 'n3', 'n4'];
  const { hash, data } = block('one copy too many');
  const targets = new PlacementRing(four, blockActorDefaults.virtualNodes).owners(hash, 3);
  const spare = four.find((node) => !targets.includes(node))!;
  const world = new World(four, { directory: directoryView(hash, data.byteLength, four, []), dropProtectMs: 0 }, (_, storage) => storage.preload([{ hash, data }]));
  world.run(2000);
  assert.equal(world.releases, [{ node: spare, hashes: [hash] }]);
  assert.equal(world.holders(hash), targets.slice().sort());
});

test('a returning node whose own view still counts it down gives none of its copies up', () => {
  const four = ['n1', 'n2', 'n3', 'n4'];
  const { hash, data } = block('the returning node keeps this');
  const targets = new PlacementRing(four, blockActorDefaults.virtualNodes).owners(hash, 3);
  const returning = targets[0]!;
  // Its return is not in the log yet: every view, its own too, still counts it down, and
  // the other three are the targets and would all confirm their copies.
  const world = new World(four, { directory: directoryView(hash, data.byteLength, four, [returning]), dropProtectMs: 0 }, (_, storage) => storage.preload([{ hash, data }]));
  world.run(2000);
  assert.ok(world.holders(hash).includes(returning), `${returning} kept its copy`);
  assert.not.ok(world.releases.some((release) => release.node === returning), `${returning} released nothing`);
});

test('an orphan sweep goes a slice of orphanSweepSliceBlocks per step and deletes only files unowned for the grace period', () => {
  const owned = Array.from({ length: 5 }, (_, i) => block(`registered here ${i}`));
  const orphans = Array.from({ length: 50 }, (_, i) => block(`no registry entry ${i}`));
  const directory = registryView(owned, ['n1'], ['n1']);
  const options = { directory, orphanSweepIntervalMs: 1000, orphanGraceMs: 1500, orphanSweepSliceBlocks: 10 };
  const world = new World(['n1'], options, (_, storage) => storage.preload([...owned, ...orphans]));
  const left = (): number => orphans.filter(({ hash }) => world.holders(hash).length > 0).length;
  world.run(2999);
  // Passes at 1000 and 2000 (5.5 steps each, 100 ms apart) note the orphans; none has been unowned 1.5 s yet.
  assert.is(left(), 50, 'nothing deleted within the grace period');
  const perStep = Array.from({ length: 7 }, () => {
    world.run(100);
    return left();
  });
  // The pass at 3000 looks at 10 files a step, in the order the store learned them: the 5
  // owned ones share the first slice with 5 orphans. In one go, all 50 would go at once.
  assert.equal(perStep, [45, 35, 25, 15, 5, 0, 0]);
  assert.equal(owned.map(({ hash }) => world.holders(hash)), owned.map(() => ['n1']), 'owned files are kept');
});

test('unknown messages are ignored and unknown ops are refused', () => {
  const world = new World(nodes);
  world.queue.push({ to: 'n1/blocks', message: { type: 'what' } });
  world.queue.push({ to: 'n1/blocks', message: null });
  world.request('n1', 1, { op: 'status' });
  world.run();
  assert.is(errorOf(world.response(1)).code, 'bad_message');
  assert.ok(world.logs.some((l) => l.level === 'debug' && l.event === 'blocks.unknown-message'));
});

test('the background scrub sits out ticks after client traffic, but not more than scrubBusyTicksMax in a row', () => {
  const held = block('scrubbed while idle');
  const world = new World(['n1'], { directory: directoryView(held.hash, held.data.byteLength, ['n1'], []), scrubBytesPerSecond: 1 << 20, scrubTickMs: 1000, scrubBusyTicksMax: 3 }, (_, storage) => storage.preload([held]));
  const actor = world.actors.get('n1/blocks')!;
  let requests = 0;
  const checkedPerTick = (busy: boolean): number => {
    const before = actor.scrubStats.checked;
    if (busy) world.request('n1', ++requests, { op: 'blocks.get', hash: held.hash });
    world.run(1000);
    return actor.scrubStats.checked - before;
  };
  assert.equal([checkedPerTick(false), checkedPerTick(false)], [1, 1], 'an idle node scrubs every tick');
  assert.equal(Array.from({ length: 8 }, () => checkedPerTick(true)), [0, 0, 0, 1, 0, 0, 0, 1], 'a busy node scrubs one tick in four');
  assert.is(checkedPerTick(false), 1, 'and every tick again once idle');
});

test('a background scrub tick counts each small block as scrubBlockBytesMin, so it holds the actor for a bounded number of them', () => {
  const held = Array.from({ length: 100 }, (_, i) => block(`tiny block ${i}`));
  const directory = registryView(held, ['n1'], ['n1']);
  const options = { directory, scrubBytesPerSecond: 64 * 1024, scrubTickMs: 1000, scrubBlockBytesMin: 16 * 1024 };
  const world = new World(['n1'], options, (_, storage) => storage.preload(held));
  const actor = world.actors.get('n1/blocks')!;
  const perTick = Array.from({ length: 3 }, () => {
    const before = actor.scrubStats.checked;
    world.run(1000);
    return actor.scrubStats.checked - before;
  });
  // 64 KiB a tick at 16 KiB a block; without the floor, one tick would check all 100 (a few KB in all).
  assert.equal(perTick, [4, 4, 4]);
  world.run(22_000);
  assert.is(actor.scrubStats.checked, 100, 'the pass still reaches every block, then starts over');
  assert.is(actor.scrubStats.corrupt, 0);
});

test.run();
