// Stand-ins for the Node built-ins that examples/tiny-lm imports for `TinyLM.save` / `TinyLM.load`
// (filesystem IO the page never calls). The Vite config maps those imports here, for the example
// LM only; a Node built-in imported by the library itself fails the build instead.
const unavailable = (name: string) => (): never => {
  throw new Error(`${name} is not available in the browser (TinyLM.save/load are Node-only)`);
};

export const mkdirSync = unavailable('fs.mkdirSync');
export const readFileSync = unavailable('fs.readFileSync');
export const writeFileSync = unavailable('fs.writeFileSync');
export const join = (...parts: string[]): string => parts.join('/');
