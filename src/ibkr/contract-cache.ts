/**
 * On-disk cache of resolved contracts (symbol + secType + exchange + currency → conid).
 *
 * Conids are stable for the life of an instrument and IBKR recommends resolving once and caching.
 * The file is JSON with a marker and a version; it is written atomically (temp file + rename) so a
 * crash never leaves half a file. A corrupt or foreign file is not fatal: it is set aside with a
 * warning and rebuilt from the gateway.
 */
import { readFileSync, renameSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../log/logger.ts';
import { silentLogger } from '../log/logger.ts';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '../util/private-files.ts';

export const CONTRACT_CACHE_FILE = 'ibkr_contract_cache.json';
const KIND = 'tandem-ibkr-contract-cache';
const VERSION = 1;

export interface ContractKey {
  symbol: string;
  secType: string;
  exchange?: string;
  currency: string;
}

export interface CachedContract {
  conid: number;
  symbol: string;
  secType: string;
  exchange: string;
  currency: string;
  description: string;
  resolvedAt: string;
}

const entrySchema = z.object({
  conid: z.number().int(),
  symbol: z.string(),
  secType: z.string(),
  exchange: z.string(),
  currency: z.string(),
  description: z.string(),
  resolvedAt: z.string(),
});

const fileSchema = z.object({
  kind: z.literal(KIND),
  version: z.literal(VERSION),
  entries: z.record(z.string(), entrySchema),
});

export function contractKey(k: ContractKey): string {
  return [k.symbol.toUpperCase(), k.secType.toUpperCase(), (k.exchange ?? '').toUpperCase(), k.currency.toUpperCase()].join('|');
}

export function contractCachePath(dataDir: string): string {
  return join(dataDir, CONTRACT_CACHE_FILE);
}

export class ContractCache {
  private entries = new Map<string, CachedContract>();
  private loaded = false;

  constructor(
    /** File path, or undefined for a memory-only cache. */
    readonly path: string | undefined,
    private readonly log: Logger = silentLogger,
  ) {}

  get(key: ContractKey): CachedContract | undefined {
    this.load();
    return this.entries.get(contractKey(key));
  }

  set(key: ContractKey, value: CachedContract): void {
    this.load();
    this.entries.set(contractKey(key), value);
    this.save();
  }

  get size(): number {
    this.load();
    return this.entries.size;
  }

  all(): CachedContract[] {
    this.load();
    return [...this.entries.values()];
  }

  clear(): void {
    this.entries.clear();
    this.loaded = true;
    if (this.path && existsSync(this.path)) rmSync(this.path);
  }

  private load(): void {
    if (this.loaded) return;
    this.loaded = true;
    if (!this.path || !existsSync(this.path)) return;
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      this.log.warn({ file: this.path, err: (err as Error).message }, 'cannot read the contract cache; rebuilding it');
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.setAside('it is not valid JSON');
      return;
    }
    const r = fileSchema.safeParse(json);
    if (!r.success) {
      const issue = r.error.issues[0];
      this.setAside(`it is not a Tandem contract cache (field \`${issue?.path.join('.') || '(root)'}\`: ${issue?.message ?? 'invalid'})`);
      return;
    }
    for (const [k, v] of Object.entries(r.data.entries)) this.entries.set(k, v);
  }

  private setAside(why: string): void {
    const path = this.path!;
    const aside = `${path}.corrupt-${Date.now()}`;
    try {
      renameSync(path, aside);
    } catch {
      /* keep going: the next save overwrites it */
    }
    this.log.warn({ file: path, setAside: aside }, `contract cache ${path} ignored because ${why}; it will be rebuilt from the gateway`);
  }

  private save(): void {
    if (!this.path) return;
    ensurePrivateDir(dirname(this.path));
    const body = { kind: KIND, version: VERSION, entries: Object.fromEntries([...this.entries].sort(([a], [b]) => a.localeCompare(b))) };
    const tmp = `${this.path}.tmp-${process.pid}-${Date.now()}`;
    writeFileSync(tmp, JSON.stringify(body, null, 2) + '\n', { encoding: 'utf8', mode: PRIVATE_FILE_MODE });
    renameSync(tmp, this.path);
  }
}

/** Deletes the cache file in `dataDir`; returns whether there was one. */
export function clearContractCache(dataDir: string): boolean {
  const p = contractCachePath(dataDir);
  if (!existsSync(p)) return false;
  rmSync(p);
  return true;
}
