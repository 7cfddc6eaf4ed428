// What the parent and a child say to each other (besides the stats reports).
export type ParentMessage = { t: 'connection' } | { t: 'drain' };
export type ChildMessage = { t: 'ready' };

export function isChildMessage(message: unknown, t: ChildMessage['t']): message is ChildMessage {
  return typeof message === 'object' && message !== null && (message as { t?: unknown }).t === t;
}
