// The one Engine of the page. Its events are routed through `handlers`, which boot.ts fills
// in, so that action modules can import `engine` without import cycles.
import { Engine, type EngineEvents } from './engine';

export const handlers: EngineEvents = {
  onCrash: () => {},
  onReady: () => {},
  onStartFailed: () => {},
  onFatal: () => {},
  onResponsive: () => {},
};

export const engine = new Engine({
  onCrash: (f) => handlers.onCrash(f),
  onReady: (info, restarted) => handlers.onReady(info, restarted),
  onStartFailed: (f) => handlers.onStartFailed(f),
  onFatal: (f) => handlers.onFatal(f),
  onResponsive: (since) => handlers.onResponsive(since),
});
