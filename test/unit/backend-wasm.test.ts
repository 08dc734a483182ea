import { backendSuite } from '../helpers/backend-suite';

backendSuite('wasm');
