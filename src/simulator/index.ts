/**
 * A local Stripe API for tests and demos: the real `stripe` SDK talks to it over HTTP.
 * See README.md in this folder.
 */
export { createSimulator, DEFAULT_API_KEY } from './simulator.js';
export { runSimulatorCli, type SimulatorCliOptions } from './cli.js';
export { DEFAULT_RULES, OUTCOME_KEY } from './rules.js';
export { DEFAULT_API_VERSION } from './events.js';
export type {
  ApiKeyState,
  ChaosOptions,
  Simulator,
  SimulatorLogger,
  SimulatorOptions,
  SimulatorStats,
  TreasuryRules,
} from './types.js';
