import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Network tests start real servers on loopback; a few files at a time keeps a 2-core CI steady.
    maxWorkers: 2,
  },
});
