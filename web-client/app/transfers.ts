// What the page shows under "Transfers": each file being hashed and stored, with its
// bytes done, and a total. Finished rows are kept for a while so the user sees them.

/** Rows kept; the oldest finished rows go first past this. */
export const transferRowsMax = 200;

export type TransferState = 'waiting' | 'hashing' | 'stored' | 'failed' | 'cancelled';

export interface Transfer {
  path: string;
  bytesTotal: number;
  bytesDone: number;
  state: TransferState;
  error?: string;
}

export class Transfers {
  private readonly rows = new Map<string, Transfer>();
  constructor(private readonly onChange: () => void) {}

  /** Adds or restarts the row of `path`. */
  start(path: string, bytesTotal: number): Transfer {
    this.rows.delete(path);
    const row: Transfer = { path, bytesTotal, bytesDone: 0, state: 'waiting' };
    this.rows.set(path, row);
    this.trim();
    this.onChange();
    return row;
  }

  update(row: Transfer, change: Partial<Transfer>): void {
    Object.assign(row, change);
    this.onChange();
  }

  list(): Transfer[] {
    return [...this.rows.values()];
  }

  /** Whether any row is still in progress. */
  get active(): boolean {
    return this.list().some((row) => row.state === 'waiting' || row.state === 'hashing');
  }

  clearFinished(): void {
    for (const [path, row] of this.rows) if (row.state !== 'waiting' && row.state !== 'hashing') this.rows.delete(path);
    this.onChange();
  }

  private trim(): void {
    for (const [path, row] of this.rows) {
      if (this.rows.size <= transferRowsMax) return;
      if (row.state !== 'waiting' && row.state !== 'hashing') this.rows.delete(path);
    }
  }
}
