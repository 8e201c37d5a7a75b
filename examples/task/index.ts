export * from './digits';
export { encodePairs, encodePrompts } from './encode';
