import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests start real libp2p nodes and LevelDBs; two cores run them best a few at a time.
    maxWorkers: 2,
    fileParallelism: true
  }
})
