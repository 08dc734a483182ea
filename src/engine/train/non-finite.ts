// A run whose loss or gradient norm stops being a number. Training on would only spread NaN
// through the adapter (AdamW turns one NaN gradient into NaN weights everywhere), so the trainer
// stops before that step changes anything, and nothing non-finite is ever saved or exported.

export class NonFiniteTrainingError extends Error {
  override name = 'NonFiniteTrainingError';
  constructor(
    /** The step (1-based) that went wrong. */
    readonly step: number,
    what: string,
    learningRate: number,
  ) {
    super(
      `training stopped at step ${step}: ${what}. ` +
        (step === 1
          ? 'At step 1 the adapter does not change the model yet, so the base model itself fails: its weights likely hold NaN or inf, or overflow in float16 (use a float32 or bfloat16 copy). '
          : '') +
        `Likely causes: a learning rate too high (${learningRate} now; try 10× lower, with warm-up steps and gradient clipping on), ` +
        'NaN or inf in the model weights, or float16 overflow.',
    );
  }

  /** The loss or the gradient norm of `step` is not finite; the step was not applied. */
  static ofStep(step: number, loss: number, gradNorm: number, learningRate: number): NonFiniteTrainingError {
    const what = Number.isFinite(loss) ? `the gradient norm is ${gradNorm}` : `the loss is ${loss}`;
    return new NonFiniteTrainingError(step, `${what}, so the step was not applied and the adapter is still that of step ${step - 1}`, learningRate);
  }
}

/** Names the first tensor holding NaN or ±inf, or null. */
export function firstNonFinite(tensors: Iterable<[string, ArrayLike<number>]>): { name: string; index: number; value: number } | null {
  for (const [name, data] of tensors) {
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return { name, index: i, value: data[i]! };
  }
  return null;
}
