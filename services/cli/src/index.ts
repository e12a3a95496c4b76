// The `tollgate` command (bin/tollgate.mjs runs main).
export { main, commandNames, loadCommand } from './main.ts';
export { createRuntime, openTransport, groupId } from './runtime.ts';
export type { Runtime } from './runtime.ts';
export { runSimPipeline } from './pipeline.ts';
export type { PipelineResult, PipelineProgress } from './pipeline.ts';
export { scenarioFromEnv, simStart } from './sim.ts';
export { allMetricSets, allMetricsTable } from './metrics.ts';
