// Results read wrongly. `//!` as in misuse-inputs.ts.
import * as mlp from "./mlp.js";
import * as encoder from "./encoder.js";

const m = await mlp.createModel();
const out = await m.predict({ x: new Float32Array(784) });
const a: Float32Array = out.prob; //! TS2551 Did you mean 'probs'?
const b: Int32Array = out.probs; //! TS2322 is not assignable to type 'Int32Array
const c: mlp.Tensor<"f32", ["B", 784]> = out.probs; //! TS2322 Type '10' is not assignable to type '784'
const d: number = m.predict({ x: new Float32Array(784) }).probs.length; //! TS2339 'probs' does not exist on type 'Promise<Outputs>'
const e: number = (await m.step({ x: new Float32Array(784), y: new Int32Array(1) })).metrics.acc; //! TS2339 'acc' does not exist on type 'Metrics'
// A model without a loss has no step(): the runtime would throw.
const enc = encoder.createModelSync();
const z: encoder.Tensor<"f32", ["B", 2]> = enc.predict({ x: new Float32Array(4) }).z;
enc.step({ x: new Float32Array(4) }); //! TS2551 Property 'step' does not exist on type 'SyncModel<Dims>'
export { a, b, c, d, e, z };
