// Types for the runner's TypeScript (the k6 script imports the .js directly).
export declare const ARRIVAL_PROCESS: string;
export declare function exponentialThinkS(meanS: number, random?: () => number): number;
export declare function firstRequestDelayS(meanS: number, random?: () => number): number;
