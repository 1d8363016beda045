/**
 * Every command of the CLI, one module each. Adding a command is one file and one line here.
 */
import type { Command } from 'commander';
import { registerConfigCommand } from './config.ts';
import { registerGatewayCommand } from './gateway.ts';
import { registerLoginCommand } from './login.ts';
import { registerSimCommand } from './sim.ts';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  registerConfigCommand,
  registerSimCommand,
  registerLoginCommand,
  registerGatewayCommand,
];
