// Records keyed by names from a .dlg file (outputs, metrics, params). Plain
// assignment `o[name] = v` sets the prototype when name is "__proto__", so
// the value vanishes from the object; defining the property makes every name
// an own, enumerable, writable property, whatever it is called.

export function setOwn<T>(o: Record<string, T>, name: string, value: T): void {
  Object.defineProperty(o, name, { value, enumerable: true, writable: true, configurable: true });
}
