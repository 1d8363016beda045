/**
 * Every command of the CLI, one module each. Adding a command is one file and one line here.
 */
import type { Command } from 'commander';
import { registerConfigCommand } from './config.ts';
import { registerCacheCommand } from './cache.ts';
import { registerDoctorCommand } from './doctor.ts';
import { registerSimCommand } from './sim.ts';
import { registerRunCommand } from './run.ts';
import { registerDemoCommand } from './demo.ts';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  registerConfigCommand,
  registerCacheCommand,
  registerDoctorCommand,
  registerSimCommand,
  registerRunCommand,
  registerDemoCommand,
];
