// Dims that do not fit: those that size parameters are required at
// createModel, and keep the values given there. `//!` as in misuse-inputs.ts.
import * as linreg from "./linreg.js";
import * as mlp from "./mlp.js";

const x = new Float32Array(6);
await linreg.createModel(); //! TS2554 Expected 1 arguments, but got 0
await linreg.createModel({ dims: {} }); //! TS2322 Property '"F"' is missing
await linreg.createModel({ dims: { F: 3, G: 2 } }); //! TS2322 Type 'number' is not assignable to type 'never'
const lr = await linreg.createModel({ dims: { F: 3 } });
await lr.predict({ x }, { F: 12 }); //! TS2322 Type '12' is not assignable to type '3'
await lr.predict({ x }, { G: 12 }); //! TS2353 'G' does not exist
linreg.createModelSync({ dims: { F: 3 } }).predict({ x }, { F: 4 }); //! TS2322 Type '4' is not assignable to type '3'
await (await mlp.createModel()).predict({ x }, { T: 4 }); //! TS2353 'T' does not exist
