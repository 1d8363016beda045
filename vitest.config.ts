import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // A bound, not a duration: a test that starts the CLI (tsx) or Chromium takes 10-30 s per start
    // beside a CPU-heavy job on 2 cores, so the default leaves room for two or three of them.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Network tests start real servers on loopback; a few files at a time keeps a 2-core CI steady.
    maxWorkers: 2,
  },
});
