// The plan of the next run (steps, tokens, time and memory estimates), kept current as the
// settings, the model or the dataset change.
import { engine } from '../engine-instance';
import { isTraining, patch, useStore } from '../store';
import type { TrainConfig } from '../../worker/api';
import { sizedToData, TRAIN_PRESETS } from './presets';

export async function refreshPlan(): Promise<void> {
  const st = useStore.getState();
  if (st.model.status !== 'ready' || !st.data.summary?.tokenized || isTraining()) {
    if (!isTraining()) patch('train', { plan: null });
    return;
  }
  try {
    let config = st.train.config;
    let plan = await engine.call((api) => api.planTraining(config));
    // An untouched preset follows the dataset: epochs for its minimum of steps, ~10% warm-up.
    const preset = TRAIN_PRESETS[st.train.preset];
    if (preset) {
      const sized = sizedToData(preset, config, plan.stepsPerEpoch);
      if (sized.epochs !== config.epochs || sized.warmupSteps !== config.warmupSteps) {
        config = { ...config, ...sized };
        plan = await engine.call((api) => api.planTraining(config));
        if (useStore.getState().train.preset === st.train.preset) patch('train', { config });
      }
    }
    patch('train', { plan });
  } catch {
    patch('train', { plan: null });
  }
}

export async function refreshMemory(): Promise<void> {
  const st = useStore.getState();
  if (st.model.status !== 'ready') return;
  const lora = st.train.config.init === 'current' && st.adapter ? st.adapter.config : st.train.config.lora;
  try {
    const memory = await engine.call((api) => api.memoryEstimate(lora, st.train.config.batchSize, st.data.options.maxLength));
    patch('model', { memory });
  } catch {
    /* no model: nothing to estimate */
  }
}

let planTimer: ReturnType<typeof setTimeout> | null = null;
export function setTrainConfig(p: Partial<TrainConfig>, preset = 'custom'): void {
  const config = { ...useStore.getState().train.config, ...p };
  patch('train', { config, preset });
  if (planTimer) clearTimeout(planTimer);
  planTimer = setTimeout(() => {
    void refreshPlan();
    void refreshMemory();
  }, 250);
}
