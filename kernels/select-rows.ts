// Row selection whose gradient is a scatter. TF.js differentiates gather through
// UnsortedSegmentSum, which the cpu backend runs as one pass per output row (a 0.3 s step
// became 160 s) and the wasm backend lacks entirely; ScatterNd is linear and on every backend.
import { tf } from '../src/engine/tf';

/** x[rows] for x: [n, d] and distinct row indices; the gradient scatters dy back into [n, d]. */
export function selectRows(x: tf.Tensor2D, rows: Int32Array): tf.Tensor2D {
  const [n, d] = x.shape;
  const f = tf.customGrad((...args) => {
    const input = args[0] as tf.Tensor2D;
    const save = args[1] as tf.GradSaveFunc;
    const idx = tf.tensor1d(rows, 'int32');
    save([idx]);
    return {
      value: tf.gather(input, idx),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.scatterND(saved[0].expandDims(1), dy, [n, d]),
    };
  });
  return f(x) as tf.Tensor2D;
}
