/** All Web API routes of the simulator. */
import type { SimCore } from '../core.ts';
import { Router } from '../router.ts';
import { registerAccountRoutes } from './accounts.ts';
import { registerContractRoutes } from './contracts.ts';
import { registerMarketDataRoutes } from './marketdata.ts';
import { registerOrderRoutes } from './orders.ts';
import { registerPortfolioRoutes } from './portfolio.ts';
import { registerSessionRoutes } from './session.ts';

export function buildRouter(core: SimCore): Router {
  const r = new Router();
  registerSessionRoutes(r, core);
  registerAccountRoutes(r, core);
  registerContractRoutes(r, core);
  registerMarketDataRoutes(r, core);
  registerOrderRoutes(r, core);
  registerPortfolioRoutes(r, core);
  return r;
}
