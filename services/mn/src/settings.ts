// What mn's main thread and its N threads agree on: the model's name, its defaults (each
// thread reads the same inherited environment) and the messages between them.
export const MODEL = 'mn';
// 50 connections per thread: with N = 4 cores that is 200 in all, as many as the event loop's 100 x 2.
export const DEFAULTS = { dbPoolMax: 50, keepAliveTimeoutMs: 75_000 };
export type Address = { address: string; family: string; port: number };
export type ThreadMessage = { t: 'listening'; address: Address } | { t: 'close' };
