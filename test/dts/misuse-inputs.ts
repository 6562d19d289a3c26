// Calls with the wrong inputs. Each `//!` comment names the diagnostic tsc
// must report on its line: code, then a piece of the message.
import * as mlp from "./mlp.js";

const x = new Float32Array(2 * 784);
const y = new Int32Array(2);
const m = await mlp.createModel();

await m.predict({ X: x }); //! TS2561 Did you mean to write 'x'?
await m.predict({ x: new Int32Array(2 * 784) }); //! TS2322 '"Int32Array"' is not assignable to type '"Float32Array"'
await m.step({ x, y: new Float32Array(2) }); //! TS2322 '"Float32Array"' is not assignable to type '"Int32Array"'
await m.step({ x }); //! TS2345 Property '"y"' is missing
await m.evaluate({ x, y, z: y }); //! TS2353 'z' does not exist in type 'Batch'
await m.predict({}); //! TS2345 Property '"x"' is missing
m.predict(x); //! TS2345 is not assignable to parameter of type 'PredictInputs'
mlp.createModelSync().step({ x, y: [1, 0] }); //! TS2322 not assignable to type 'Tensor<"i32", ["B"]>'
