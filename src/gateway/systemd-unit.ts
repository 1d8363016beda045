/**
 * A systemd unit that runs `tandem gateway start` at boot, so the gateway (and, with auto-login,
 * its session) survives reboots without anyone at the keyboard.
 */
export interface SystemdUnitOptions {
  /** Absolute path of the gateway folder. */
  gatewayDir: string;
  /** Absolute path of the data directory (logs, screenshots). */
  dataDir: string;
  /** Where Tandem runs (its .env and configs are read from here). */
  workingDir: string;
  /** Node executable. */
  nodePath: string;
  /** bin/tandem.js of this checkout. */
  tandemBin: string;
  /** Engine config to read auth settings from (enables auto-login when auth.autoLogin is true). */
  configFile?: string;
  /** PATH for the service: java (for the gateway) and node must be on it. */
  path: string;
  /** A system unit (runs as `user`, starts at boot) instead of a user unit. */
  system?: { user: string };
}

/** systemd's quoting: an argument with spaces or quotes goes in double quotes with escapes. */
function quote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `"${arg.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function renderSystemdUnit(o: SystemdUnitOptions): string {
  const args = [o.nodePath, o.tandemBin, 'gateway', 'start', '--dir', o.gatewayDir, '--data-dir', o.dataDir];
  if (o.configFile) args.push('--config', o.configFile);
  const install = o.system
    ? [
        '# Install (system unit, starts at boot):',
        '#   sudo tee /etc/systemd/system/tandem-gateway.service < this-file',
        '#   sudo systemctl daemon-reload && sudo systemctl enable --now tandem-gateway',
      ]
    : [
        '# Install (user unit):',
        '#   mkdir -p ~/.config/systemd/user && tandem gateway unit ... > ~/.config/systemd/user/tandem-gateway.service',
        '#   systemctl --user daemon-reload && systemctl --user enable --now tandem-gateway',
        '#   loginctl enable-linger "$USER"   # keep it running while you are logged out',
      ];
  return [
    '# tandem-gateway.service: the IBKR Client Portal Gateway supervised by Tandem',
    '# (restarts on exit, health checks via /tickle, logs in the data directory).',
    ...install,
    '#   journalctl --user -u tandem-gateway -f   (drop --user for a system unit)',
    '[Unit]',
    'Description=IBKR Client Portal Gateway supervised by Tandem',
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    ...(o.system ? [`User=${o.system.user}`] : []),
    `WorkingDirectory=${quote(o.workingDir)}`,
    `Environment=${quote(`PATH=${o.path}`)}`,
    `ExecStart=${args.map(quote).join(' ')}`,
    // Tandem restarts the gateway itself; systemd restarts Tandem if it ever exits.
    'Restart=always',
    'RestartSec=10',
    // SIGTERM lets Tandem stop the gateway's process group; after this systemd kills what is left.
    'KillMode=mixed',
    'TimeoutStopSec=30',
    '',
    '[Install]',
    `WantedBy=${o.system ? 'multi-user.target' : 'default.target'}`,
    '',
  ].join('\n');
}
