// The four failure modes, each bounded in time and in a file of its own: Slowloris (a sweep of slow
// connections), the database stopped for 10 s under load, each model driven at twice its knee, and
// a model container stopped under load. Each returns plain data; tables.ts turns it into the report.
export { vusPerTarget, type Context, type ServiceContainer } from './context.ts';
export { SLOWLORIS, runSlowloris, slowlorisPlan, type SlowlorisRow } from './experiment-slowloris.ts';
export { OUTAGE, runOutage, type OutageResult, type OutageTargetRow } from './experiment-outage.ts';
export { OVERLOAD, runOverload, type OverloadRow } from './experiment-overload.ts';
export { SHUTDOWN, runShutdown, type ShutdownResult, type ShutdownRow } from './experiment-shutdown.ts';
