/**
 * Every command of the CLI, one module each. Adding a command is one file and one line here.
 */
import type { Command } from 'commander';
import { registerBacktestCommand } from './backtest.ts';
import { registerCacheCommand } from './cache.ts';
import { registerConfigCommand } from './config.ts';
import { registerDemoCommand } from './demo.ts';
import { registerDoctorCommand } from './doctor.ts';
import { registerGatewayCommand } from './gateway.ts';
import { registerHistoryCommand } from './history.ts';
import { registerLoginCommand } from './login.ts';
import { registerOAuthCommand } from './oauth.ts';
import { registerRunCommand } from './run.ts';
import { registerScanCommand } from './scan.ts';
import { registerSimCommand } from './sim.ts';
import { registerSweepCommand } from './sweep.ts';
import { registerStatusCommand } from './status.ts';
import { registerTradesCommand } from './trades.ts';
import { registerDashboardCommand } from './dashboard.ts';
import { registerReportCommand } from './report.ts';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  registerConfigCommand,
  registerSimCommand,
  registerCacheCommand,
  registerDoctorCommand,
  registerBacktestCommand,
  registerScanCommand,
  registerSweepCommand,
  registerHistoryCommand,
  registerLoginCommand,
  registerGatewayCommand,
  registerRunCommand,
  registerDemoCommand,
  registerOAuthCommand,
  registerStatusCommand,
  registerTradesCommand,
  registerDashboardCommand,
  registerReportCommand,
];
