/** SkillBoss upstream simulator: public API. */
export { startSimulator, type Simulator, type SimulatorOptions } from './simulator.js';
export type { RecordedRequest } from './context.js';
export type { Faults, FailNextFault } from './faults.js';
export { SIMULATOR_MODELS, costMicros as simulatorCostMicros, type SimModel } from './models.js';
export { ALL_SCOPES as SIMULATOR_SCOPES } from './state.js';
export { MEMORY_HINT as SIMULATOR_MEMORY_HINT, REAL_UNPRICED as SIMULATOR_REAL_UNPRICED, type SimDialect } from './real.js';
