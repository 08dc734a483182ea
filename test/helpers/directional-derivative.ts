// The derivative of a scalar loss along one random direction in all trainable variables at
// once: the analytic one from tf.variableGrads, and central finite differences of the loss.
import { tf } from '../../src/engine/tf';
import { assignData } from '../../src/engine/variables';
import { mulberry32 } from '../../src/engine/rng';

export function directionalDerivative(loss: () => tf.Scalar, vars: tf.Variable[], seed: number, h = 1e-3): { analytic: number; finiteDifference: number } {
  const { value, grads } = tf.variableGrads(loss, vars);
  value.dispose();
  const r = mulberry32(seed);
  const dirs = vars.map((v) => Float32Array.from({ length: v.size }, () => r() * 2 - 1));
  const base = vars.map((v) => v.dataSync().slice() as Float32Array);
  let analytic = 0;
  vars.forEach((v, i) => grads[v.name]!.dataSync().forEach((g, j) => (analytic += g * dirs[i]![j]!)));
  tf.dispose(Object.values(grads));
  const at = (eps: number) => {
    vars.forEach((v, i) => assignData(v, base[i]!.map((x, j) => x + eps * dirs[i]![j]!)));
    const l = loss();
    const x = l.dataSync()[0]!;
    l.dispose();
    return x;
  };
  const finiteDifference = (at(h) - at(-h)) / (2 * h);
  vars.forEach((v, i) => assignData(v, base[i]!));
  return { analytic, finiteDifference };
}
