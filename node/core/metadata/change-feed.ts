// The change feed: which file versions each commit wrote, numbered by commit index, so a
// client asks "what changed since cursor C" instead of listing everything again. It keeps
// the newest `entriesMax` records; a cursor older than what was dropped must start over.

/** One file changed at one commit index. */
export interface FeedRecord {
  index: number;
  namespace: string;
  path: string;
  version: number;
}

export type FeedRow = [index: number, namespace: string, path: string, version: number];

/** A bounded, index-ordered log of feed records, shared by all namespaces. */
export class ChangeFeed {
  private records: FeedRecord[] = [];
  /** Records before this position were dropped; they are spliced out in bulk to keep appends O(1) amortized. */
  private start = 0;
  /** The highest index of any dropped record: a cursor below it has missed something. */
  floor = 0;

  constructor(private readonly entriesMax: number) {
    if (!(entriesMax >= 1)) throw new RangeError(`feedEntriesMax must be at least 1, got ${entriesMax}`);
  }

  get length(): number {
    return this.records.length - this.start;
  }

  append(record: FeedRecord): void {
    const last = this.records[this.records.length - 1];
    if (last && record.index < last.index) throw new Error(`feed records must come in index order: ${record.index} after ${last.index}`);
    this.records.push(record);
    if (this.length > this.entriesMax) {
      this.floor = this.records[this.start]!.index;
      this.start++;
      if (this.start >= this.entriesMax) {
        this.records = this.records.slice(this.start);
        this.start = 0;
      }
    }
  }

  /** Tells whether a reader at `cursor` has missed dropped records. */
  missed(cursor: number): boolean {
    return cursor < this.floor;
  }

  /** The records with index above `cursor`, oldest first. */
  *after(cursor: number): Generator<FeedRecord> {
    let lo = this.start;
    let hi = this.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.records[mid]!.index <= cursor) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.records.length; i++) yield this.records[i]!;
  }

  /**
   * The records held now, for a snapshot: a copy of the list, but the records themselves
   * are shared (they never change), so this is cheap however long the feed is.
   */
  held(): { floor: number; records: FeedRecord[] } {
    return { floor: this.floor, records: this.records.slice(this.start) };
  }

  /** A record as a snapshot stores it. */
  static row(record: FeedRecord): FeedRow {
    return [record.index, record.namespace, record.path, record.version];
  }

  static fromJSON(json: { floor: number; rows: FeedRow[] }, entriesMax: number): ChangeFeed {
    const feed = new ChangeFeed(entriesMax);
    feed.floor = json.floor;
    feed.records = json.rows.map(([index, namespace, path, version]) => ({ index, namespace, path, version }));
    return feed;
  }
}
