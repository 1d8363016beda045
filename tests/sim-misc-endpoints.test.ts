/**
 * Simulator conformance: the smaller endpoints — account meta, account switch, hmds init, the old
 * single-order path, the old unsubscribe path, positions across accounts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../src/gateway-sim/index.ts';
import { clientFor, eventually } from './support/sim-http.ts';

let sim: RunningSimulator | undefined;
afterEach(async () => { await sim?.close(); sim = undefined; });

describe('sim misc endpoints', () => {
  it('answers the smaller endpoints with the reference shapes', async () => {
    sim = await startSimulator({ seed: 1, startTime: '2026-03-10T15:00:00Z', authenticated: true, profile: 'ideal' });
    const { api } = clientFor(sim);
    expect((await api('GET', '/portfolio/DU1234567/meta')).body).toMatchObject({ id: 'DU1234567', type: 'DEMO', currency: 'USD' });
    expect((await api('POST', '/iserver/account', { body: { acctId: 'DU1234567' } })).body).toEqual({ success: 'Account already set' });
    expect((await api('POST', '/iserver/account', { body: { acctId: 'U999' } })).status).toBe(500);
    expect((await api('POST', '/iserver/account', { body: {} })).status).toBe(400);
    expect((await api('POST', '/hmds/auth/init')).body).toEqual({ authenticated: true });
    const one = await api('POST', '/iserver/account/DU1234567/order', { body: { conid: 756733, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 2 } });
    expect(one.body[0].order_id).toMatch(/^\d+$/);
    const pos = await eventually(() => api('GET', '/portfolio/positions/756733'), (r) => Boolean(r.body?.DU1234567?.length));
    expect(pos.body.DU1234567[0]).toMatchObject({ acctId: 'DU1234567', conid: 756733, position: 2 });
    expect((await api('GET', '/portfolio/positions/265598')).body).toEqual({});
    expect((await api('GET', '/portfolio/DU1234567/position/265598')).body).toEqual([]);
    await api('GET', '/iserver/marketdata/snapshot?conids=756733');
    expect((await api('GET', '/iserver/marketdata/756733/unsubscribe')).body).toEqual({ confirmed: 'success' });
    expect((await api('GET', '/iserver/marketdata/756733/unsubscribe')).status).toBe(404);
    expect((await api('DELETE', '/iserver/auth/status')).status).toBe(405);
    const validate = await api('GET', '/sso/validate');
    expect(validate.body).toMatchObject({ RESULT: true, LOGIN_TYPE: 2, features: { env: 'PROD' } });
  });

  it('the live session sees the live account only', async () => {
    sim = await startSimulator({ seed: 1, authenticated: true, paper: false, profile: 'ideal', accounts: { live: { id: 'U7654321', cash: 5_000 } } });
    const { api } = clientFor(sim);
    const a = await api('GET', '/iserver/accounts');
    expect(a.body).toMatchObject({ accounts: ['U7654321'], isPaper: false });
    expect((await api('GET', '/portfolio/accounts')).body[0]).toMatchObject({ id: 'U7654321', type: 'INDIVIDUAL' });
    expect((await api('GET', '/portfolio/U7654321/summary')).body.totalcashvalue.amount).toBe(5_000);
    expect((await api('GET', '/portfolio/DU1234567/summary')).status).toBe(400);
    expect((await api('GET', '/sso/validate')).body.LOGIN_TYPE).toBe(1);
  });
});
