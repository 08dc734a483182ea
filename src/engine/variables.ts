// tf.variable(x) and v.assign(x) take a reference to x's data but leave the tensor x itself
// alive; without a tidy around them every adapter, optimizer and restore leaked its initial
// values (3× the LoRA bytes per run).
import { tf } from './tf';

export function newVariable(init: () => tf.Tensor, trainable: boolean, name?: string): tf.Variable {
  return tf.tidy(() => tf.variable(init(), trainable, name));
}

export function assignData(v: tf.Variable, data: Float32Array): void {
  tf.tidy(() => v.assign(tf.tensor(data, v.shape, v.dtype)));
}
