import { backendSuite } from '../helpers/backend-suite';

backendSuite('cpu');
