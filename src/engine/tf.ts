// The single entry to TF.js for the engine. The umbrella package is used (not tfjs-core alone)
// because only its Node build carries the gradient registrations and chained ops as CommonJS;
// tfjs-core's deep ESM imports break under Node's ESM resolver and would load a second copy
// of the engine next to the CommonJS one.
import * as tf from '@tensorflow/tfjs';

export { tf };
export type Tensor = tf.Tensor;
