// Public API of ganpo. Each section re-exports one concept; implementations live in their folders.

export {
  getValidationLevel,
  setValidationLevel,
  type ValidationLevel,
  withValidationLevel,
} from './core/config';
// Core: errors and validation
export { GanpoError, type GanpoErrorCode, type GanpoErrorDetails } from './core/errors';
// Ops that tfjs lacks or gets wrong
export { logSigmoid } from './ops/log-sigmoid';
export { stopGradient } from './ops/stop-gradient';
// Versions (importing this module also registers tfjs's gradients)
export { versions } from './version';
