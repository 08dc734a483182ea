// The single entry to TF.js for the engine. tfjs-core alone has no gradients registered;
// importing them here means every engine module that differentiates sees the same registry.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
// Chained ops (x.add(y)) keep the model code readable as the math it implements.
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-cpu';

export { tf };
export type Tensor = tf.Tensor;
