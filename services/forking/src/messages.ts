// What the parent and a child say to each other (besides the stats reports).
import type { ServiceConfig } from '@models/common/unit';

export type ParentMessage = { t: 'connection'; config: ServiceConfig } | { t: 'drain' };
export type ChildMessage = { t: 'ready' };

export function isChildMessage(message: unknown, t: ChildMessage['t']): message is ChildMessage {
  return typeof message === 'object' && message !== null && (message as { t?: unknown }).t === t;
}
