/** Public surface of the IBKR Client Portal Web API client. */
export { IbkrClient, type IbkrClientOptions } from './client.ts';
export * from './errors.ts';
export { Pacer, maxInAnyWindow, validateBudget, DEFAULT_REQUESTS_PER_SECOND, MAX_REQUESTS_PER_SECOND, type Priority } from './pacing.ts';
export { parseFormatted, normalizeSide, normalizeStatus, isTerminalStatus, type OrderStatus } from './decode.ts';
export type { AuthStatus, BrokerageAccounts, TickleResult } from './session.ts';
export { ContractCache, clearContractCache, contractCachePath, CONTRACT_CACHE_FILE, type CachedContract } from './contract-cache.ts';
export type { ContractQuery, SecType } from './contracts.ts';
export { FIELD, DEFAULT_QUOTE_FIELDS, type Quote, type Bar, type BarSize, planHistoryPages } from './market-data.ts';
export { newClientOrderId, buildTicket, type OrderRequest, type ComboOrderRequest, type PlacedOrder, type LiveOrder, type Execution, type ReplyPolicy } from './orders.ts';
export type { PortfolioAccount, AccountSummary, LedgerEntry, Position, PortfolioSnapshot } from './portfolio.ts';
export type { StreamEvents } from './stream.ts';
export { runDoctor, type DoctorExpectations, type DoctorLine } from './doctor.ts';
