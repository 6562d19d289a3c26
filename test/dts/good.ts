// Uses two compiled models as their .d.ts allows: test/dts-types.test.ts
// type-checks it (strict) against mlp.d.ts and linreg.d.ts and expects no
// diagnostic at all.
import * as mlp from "./mlp.js";
import * as linreg from "./linreg.js";

const B = 2;
const x = new Float32Array(B * 784);
const y = new Int32Array(B);

// mlp: no dims size its parameters, so createModel needs no options.
const m = await mlp.createModel({ seed: 1 });
const out = await m.predict({ x });
const probs: Float32Array = out.probs;
const typed: mlp.Tensor<"f32", ["B", 10]> = out.probs;
// A batch with the label fits predict (only an object literal's extra keys are errors).
const batch = { x, y };
await m.predict(batch, { B });
const scores = await m.step({ x, y });
const loss: number = scores.loss;
const accuracy: number = (await m.evaluate({ x, y })).metrics.accuracy;
const w: Float32Array = (await m.params())["dense_1.w"];
const shaped: mlp.Tensor<"f32", [784, 256]> = (await m.params())["dense_1.w"];
const anyModel: mlp.Model = m;
const sync = mlp.createModelSync();
const p2: Float32Array = sync.predict({ x }).probs;
sync.step({ x, y: Int32Array.from([1, 2]) });

// linreg: F sizes `theta`, so createModel needs it, and calls keep F = 3.
const lr = await linreg.createModel({ dims: { F: 3 } });
const pred = (await lr.predict({ x: new Float32Array(B * 3) }, { B, F: 3 })).pred;
await lr.step({ x: new Float32Array(B * 3), y: new Float32Array(B) });
declare const features: number;
// A dim known only at run time is a number, and any number fits later calls.
const lr2 = await linreg.createModel({ dims: { F: features }, seed: 2 });
await lr2.evaluate({ x: new Float32Array(B * 3), y: new Float32Array(B) }, { F: 4 });
const opts: linreg.ModelOptions = { dims: { F: 3 } };
const lr3: linreg.Model = await linreg.createModel(opts);
const theta: linreg.Tensor<"f32", ["F"]> = (await lr3.params()).theta;
const first: string = linreg.spec.inputs[0].name;
// What the model makes sits on its own ArrayBuffer: a BufferSource (Blob, fetch, writeBuffer) since TS 5.7.
const own: Float32Array<ArrayBuffer> = out.probs;
const ownParam: Float32Array<ArrayBuffer> = sync.params["dense_1.b"];
const checkpoint: Uint8Array<ArrayBuffer> = await m.save({ note: "x" });
await m.load(checkpoint);
// ...and still fits an input of its shape (linreg's prediction as its target).
await lr.step({ x: new Float32Array(B * 3), y: pred });

export { probs, typed, loss, accuracy, w, shaped, anyModel, p2, pred, theta, first };
export { own, ownParam, checkpoint };
