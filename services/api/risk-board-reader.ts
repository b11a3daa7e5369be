// The risk boards of all detector workers, merged into one list soonest-first for GET
// /api/v1/risks. A request reads only the small hash of board versions; a board is fetched,
// parsed and merged again only when its worker published a new one.

import { VIEW_RISKS_KEY, VIEW_RISKS_UPDATED_KEY, type RiskBoard, type RiskEntry } from '../../shared/model/index.js';
import type { StateStore } from '../../shared/ports/index.js';

export interface MergedRisks {
  /** Soonest crossing first. */
  items: RiskEntry[];
  /** Workers whose boards are current. */
  workers: number;
  /** Series those workers hold, and how many of them are predicted to breach. */
  series: number;
  breaching: number;
}

export class RiskBoardReader {
  private readonly boards = new Map<string, RiskBoard>();
  private merged: MergedRisks = { items: [], workers: 0, series: 0, breaching: 0 };
  /** Worker and version of each board in `merged`, to know when to merge again. */
  private mergedOf = '';

  constructor(
    private readonly store: StateStore,
    /** Boards older than this (ms) belong to workers that are gone and are ignored. */
    private readonly staleMs: number,
    private readonly clock: () => number,
  ) {}

  async read(): Promise<MergedRisks> {
    const versions = await this.store.hgetall(VIEW_RISKS_UPDATED_KEY);
    const now = this.clock();
    const current: RiskBoard[] = [];
    for (const worker in versions) {
      const [version, publishedAt] = versions[worker].split(' ').map(Number);
      if (!(now - publishedAt <= this.staleMs)) continue;
      let board = this.boards.get(worker);
      if (board === undefined || board.version !== version) {
        const raw = await this.store.hget(VIEW_RISKS_KEY, worker);
        if (raw === null) continue;
        board = JSON.parse(raw) as RiskBoard;
        this.boards.set(worker, board);
      }
      current.push(board);
    }
    for (const worker of this.boards.keys()) if (!(worker in versions)) this.boards.delete(worker);
    current.sort((a, b) => (a.worker < b.worker ? -1 : 1));
    const of = current.map((b) => `${b.worker}@${b.version}`).join(',');
    if (of !== this.mergedOf) {
      const items: RiskEntry[] = [];
      let series = 0;
      let breaching = 0;
      for (const b of current) {
        for (const r of b.items) items.push(r);
        series += b.series;
        breaching += b.breaching;
      }
      items.sort((a, b) => a.crossing.at - b.crossing.at || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      this.merged = { items, workers: current.length, series, breaching };
      this.mergedOf = of;
    }
    return this.merged;
  }
}
