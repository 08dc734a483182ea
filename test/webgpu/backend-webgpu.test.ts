import { installNodeWebGPU } from '../../src/engine/backend-node';
import { backendSuite } from '../helpers/backend-suite';

// Dawn on SwiftShader: a real WebGPU implementation on the CPU, slow but exact enough.
backendSuite('webgpu', async () => {
  if (!(await installNodeWebGPU({ swiftshader: true }))) throw new Error('Dawn (npm "webgpu") failed to load');
});
