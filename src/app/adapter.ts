// The adapter the engine holds now (trained, imported or none), as the panels show it.
import { engine } from './engine-instance';
import { useStore } from './store';

export async function refreshAdapter(): Promise<void> {
  try {
    const adapter = await engine.call((api) => api.adapterInfo());
    useStore.setState({ adapter });
  } catch {
    useStore.setState({ adapter: null });
  }
}
