// Where the commands send their requests: --server, then RAFTBOX_SERVER, then the local
// cluster `npm start` runs. A malformed address is bad usage at once, not twenty seconds
// of retries against a node that cannot exist.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseArgs, serverUrls, UsageError } from './args.ts';

const urlsOf = (argv: string[], env?: string): string[] => {
  const saved = process.env.RAFTBOX_SERVER;
  if (env === undefined) delete process.env.RAFTBOX_SERVER;
  else process.env.RAFTBOX_SERVER = env;
  try {
    return serverUrls(parseArgs(argv, ['--server'], []));
  } finally {
    if (saved === undefined) delete process.env.RAFTBOX_SERVER;
    else process.env.RAFTBOX_SERVER = saved;
  }
};

test('--server wins over RAFTBOX_SERVER, which wins over the local default; HOST:PORT gets ws://', () => {
  assert.equal(urlsOf(['--server', '10.0.0.1:7001, wss://b.example:443'], 'c:1'), ['ws://10.0.0.1:7001', 'wss://b.example:443']);
  assert.equal(urlsOf([], '127.0.0.1:9001,127.0.0.1:9002'), ['ws://127.0.0.1:9001', 'ws://127.0.0.1:9002']);
  assert.equal(urlsOf([]), ['ws://127.0.0.1:7001', 'ws://127.0.0.1:7002', 'ws://127.0.0.1:7003']);
});

test('a malformed or empty address list is bad usage that names where it came from', () => {
  const refusal = (argv: string[], env?: string): string => {
    try {
      urlsOf(argv, env);
    } catch (error) {
      assert.instance(error, UsageError);
      return (error as Error).message;
    }
    throw new Error(`${argv.join(' ')} / ${env} was accepted`);
  };
  assert.match(refusal(['--server', 'nonsense:::']), /^--server names "ws:\/\/nonsense:::", which is not a node address/);
  assert.match(refusal(['--server', 'ws://:7001']), /not a node address/);
  assert.match(refusal([], 'http//x'), /^RAFTBOX_SERVER names "ws:\/\/http\/\/x", which is not a node address/);
  assert.match(refusal(['--server', ' , ']), /^--server names no node/);
});

test.run();
