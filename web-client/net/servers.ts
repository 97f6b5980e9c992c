// Where the cluster is. The page is served over HTTP by the cluster (or next to it), so
// it asks its own origin first: `servers.json` lists the nodes' ws:// URLs. A `servers`
// query parameter overrides it, and the last list that worked is remembered so the app
// starts offline and reconnects to the same cluster. Failing all of those, it tries the
// default ports of `npm start` on the page's host. The client learns the rest of the
// cluster from the map of whichever node answers and fails over between them.

/** Where the last list that worked is remembered. */
const storageKey = 'raftbox.servers';
/** Node ports `raftbox cluster` uses by default. */
const defaultPorts = [7001, 7002, 7003];
/** URLs taken from any one source; a longer list is cut. */
export const serversMax = 64;

/** Parses a comma-separated list of ws:// or wss:// URLs, dropping anything else. */
export function parseServers(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => /^wss?:\/\/[^\s/]+/.test(item))
    .slice(0, serversMax);
}

/** The default node URLs on `hostname`. */
export function defaultServers(hostname: string): string[] {
  return defaultPorts.map((port) => `ws://${hostname}:${port}`);
}

async function fetchServers(): Promise<string[]> {
  try {
    const response = await fetch('servers.json', { cache: 'no-store' });
    if (!response.ok) return [];
    const body: unknown = await response.json();
    const list = (body as { servers?: unknown }).servers;
    return Array.isArray(list) ? parseServers(list.filter((item) => typeof item === 'string').join(',')) : [];
  } catch {
    return [];
  }
}

/** The ws:// URLs to connect to, from the first source that names any. */
export async function discoverServers(location: Location = window.location): Promise<string[]> {
  const fromQuery = parseServers(new URLSearchParams(location.search).get('servers') ?? '');
  const found = fromQuery.length > 0 ? fromQuery : await fetchServers();
  if (found.length > 0) {
    localStorage.setItem(storageKey, found.join(','));
    return found;
  }
  const remembered = parseServers(localStorage.getItem(storageKey) ?? '');
  return remembered.length > 0 ? remembered : defaultServers(location.hostname);
}
