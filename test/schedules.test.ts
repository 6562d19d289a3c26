// Learning-rate schedules: runtime/schedule.ts's lr of every step against
// PyTorch's schedulers, written here in their recursive ("chainable") form as
// torch.optim.lr_scheduler computes them (each lr from the one before, not
// the closed forms schedule.ts uses), stepped per epoch (StepLR,
// ExponentialLR) or per step (LinearLR, CosineAnnealingLR after it in a
// SequentialLR). Then through compiled modules: the lr a step applied, read
// back from a parameter whose gradient is exactly 1, on js and wasm; what
// createModel and step() refuse; and a resumed model continuing the schedule
// bit for bit.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadModule } from "../cli/module.ts";
import { compile } from "../cli/node-host.ts";
import { stdPath } from "../compiler/elaborate.ts";
import type { Schedule } from "../runtime/program.ts";
import { interpret } from "../compiler/interpret.ts";
import { describeSchedule, runProblem, scheduleLr, withBase } from "../runtime/schedule.ts";
import { slotInputs } from "./entry-inputs.ts";

// ---------------------------------------------------------------- PyTorch's schedulers

/** A scheduler as PyTorch steps it: the lr before any step(), then the lr after each step() from the one before. */
interface Chainable {
  first: number;
  next(lr: number, lastEpoch: number): number;
}

const stepLR = (base: number, stepSize: number, gamma: number): Chainable => ({
  first: base,
  next: (lr, last) => (last % stepSize !== 0 ? lr : lr * gamma),
});

const exponentialLR = (base: number, gamma: number): Chainable => ({
  first: base,
  next: (lr) => lr * gamma,
});

/** LinearLR(start_factor, end_factor=1, total_iters): torch's _get_closed_form_lr is not what step() uses; this is. */
function linearLR(base: number, start: number, total: number): Chainable {
  const end = 1;
  return {
    first: base * start,
    next: (lr, last) =>
      last > total ? lr : lr * (1 + (end - start) / (total * start + (last - 1) * (end - start))),
  };
}

/** CosineAnnealingLR(T_max, eta_min=0), chainable form. */
function cosineAnnealingLR(base: number, tMax: number): Chainable {
  return {
    first: base,
    next: (lr, last) =>
      (last - 1 - tMax) % (2 * tMax) === 0
        ? lr + (base * (1 - Math.cos(Math.PI / tMax))) / 2
        : ((1 + Math.cos((Math.PI * last) / tMax)) /
            (1 + Math.cos((Math.PI * (last - 1)) / tMax))) *
          lr,
  };
}

/** The lrs a scheduler gives `n` consecutive periods (epochs or steps). */
function run(s: Chainable, n: number): number[] {
  const out = [s.first];
  for (let last = 1; out.length < n; last++) out.push(s.next(out[out.length - 1]!, last));
  return out;
}

/** Per-epoch lrs spread over the steps of each epoch. */
const perStep = (epochLrs: number[], stepsPerEpoch: number) =>
  epochLrs.flatMap((lr) => new Array<number>(stepsPerEpoch).fill(lr));

/** schedule.ts's lr of steps 1..total. */
const ours = (s: Schedule, stepsPerEpoch: number, epochs: number) =>
  Array.from({ length: stepsPerEpoch * epochs }, (_, i) =>
    scheduleLr(s, i + 1, { stepsPerEpoch, epochs }),
  );

function expectClose(got: number[], want: number[]) {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    const tol = 1e-12 * Math.max(1e-3, Math.abs(want[i]!));
    if (Math.abs(g - want[i]!) > tol)
      throw new Error(`step ${i + 1}: lr ${g}, PyTorch ${want[i]} (all: ${got.join(", ")})`);
  });
}

describe("the lr of each step, against PyTorch's schedulers", () => {
  it("constant", () => {
    expectClose(ours({ kind: "constant", lr: 0.1 }, 3, 2), new Array<number>(6).fill(0.1));
  });

  it("step_decay is StepLR stepped per epoch", () => {
    for (const [every, gamma, spe, epochs] of [
      [2, 0.5, 3, 7],
      [1, 0.1, 1, 5],
      [3, 0.9, 4, 10],
    ] as const) {
      const s: Schedule = { kind: "step_decay", lr: 0.05, every, gamma };
      expectClose(ours(s, spe, epochs), perStep(run(stepLR(0.05, every, gamma), epochs), spe));
    }
  });

  it("exponential is ExponentialLR stepped per epoch", () => {
    const s: Schedule = { kind: "exponential", lr: 0.2, gamma: 0.8 };
    expectClose(ours(s, 5, 6), perStep(run(exponentialLR(0.2, 0.8), 6), 5));
  });

  it("linear_warmup is LinearLR(start_factor=1/N, total_iters=N-1) stepped per step", () => {
    for (const n of [1, 2, 7]) {
      const s: Schedule = { kind: "linear_warmup", lr: 0.3, steps: n };
      expectClose(ours(s, 4, 3), run(linearLR(0.3, 1 / n, n - 1), 12));
    }
  });

  it("cosine is that warm-up, then CosineAnnealingLR(T_max = T - N) (SequentialLR)", () => {
    for (const [warmup, spe, epochs] of [
      [0, 5, 4],
      [3, 5, 4],
      [10, 7, 2],
      [13, 7, 2],
    ] as const) {
      const total = spe * epochs;
      const want = [
        ...(warmup > 0 ? run(linearLR(3e-4, 1 / warmup, warmup - 1), warmup) : []),
        ...run(cosineAnnealingLR(3e-4, total - warmup), total - warmup),
      ];
      expectClose(ours({ kind: "cosine", lr: 3e-4, warmup }, spe, epochs), want);
    }
    // Past the run's end (more steps than it declared) the lr stays at 0.
    expect(
      scheduleLr({ kind: "cosine", lr: 1, warmup: 0 }, 21, { stepsPerEpoch: 5, epochs: 4 }),
    ).toBe(0);
  });

  it("names a run that cannot drive the schedule", () => {
    const cos: Schedule = { kind: "cosine", lr: 0.1, warmup: 20 };
    expect(runProblem(cos, { stepsPerEpoch: null, epochs: 3 })).toMatch(
      /decays over the whole run: create the model with createModel\(\{ stepsPerEpoch: N, epochs: E \}\)/,
    );
    expect(
      runProblem({ kind: "exponential", lr: 1, gamma: 0.5 }, { stepsPerEpoch: null, epochs: 3 }),
    ).toMatch(/changes per epoch/);
    expect(runProblem(cos, { stepsPerEpoch: 5, epochs: 4 })).toBe(
      "cosine(0.1, warmup: 20) warms up over 20 steps, but the run has 20 (5 steps per epoch × 4 epochs): cosine needs at least one step after its warm-up",
    );
    expect(runProblem(cos, { stepsPerEpoch: 7, epochs: 3 })).toBeNull();
    // A linear warm-up may end on the last step, not after it; it needs no epoch length.
    const warm: Schedule = { kind: "linear_warmup", lr: 0.1, steps: 20 };
    expect(runProblem(warm, { stepsPerEpoch: 5, epochs: 4 })).toBeNull();
    expect(runProblem(warm, { stepsPerEpoch: 5, epochs: 3 })).toMatch(/warms up over 20 steps/);
    expect(runProblem(warm, { stepsPerEpoch: null, epochs: 3 })).toBeNull();
  });

  it("prints as the train block spells it, and takes another base value", () => {
    const s: Schedule = { kind: "step_decay", lr: 0.05, every: 2, gamma: 0.5 };
    expect(describeSchedule(s)).toBe("step_decay(0.05, every: 2, gamma: 0.5)");
    expect(describeSchedule({ kind: "constant", lr: 0.1 })).toBe("0.1");
    expect(withBase(s, 0.2)).toEqual({ ...s, lr: 0.2 });
  });
});

// ---------------------------------------------------------------- compiled modules

/** A model whose loss is sum(w) + 0 * mean(x): w's gradient is 1, so a plain SGD step moves w by -lr. */
const source = (lr: string, epochs = 3) => `dim B
model probe {
  input x: [B, 2]
  param w: [1] init zeros
  loss sum(w) + 0.0 * mean(x)
}
train t for probe { optimizer sgd(lr: ${lr})  batch 4  epochs ${epochs} }`;

async function probe(lr: string, target: "js" | "wasm" = "js", epochs = 3) {
  const host = {
    readFile: (p: string) => (p === "m.dlg" ? source(lr, epochs) : undefined),
    readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
  };
  const r = compile("m.dlg", { host, target });
  if (!r.ok) throw new Error(`probe does not compile: ${JSON.stringify(r.diagnostics)}`);
  return { mod: await loadModule(r.js!), program: r.program! };
}

const batch = { x: new Float32Array(8) };

/** The lr each of `n` steps applied: minus the change of w (exact in float64 of the float32 values, up to w's rounding). */
async function appliedLrs(
  model: Awaited<ReturnType<Awaited<ReturnType<typeof probe>>["mod"]["createModel"]>>,
  n: number,
) {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const before = (await model.params()).w![0]!;
    await model.step(batch);
    out.push(before - (await model.params()).w![0]!);
  }
  return out;
}

describe("a compiled module's scheduled lr", () => {
  it("keeps a constant lr a literal of the step (no lr in-slot)", async () => {
    const { program } = await probe("0.1");
    const step = program.entries.find((e) => e.name === "step")!;
    expect(step.inSlots.some((s) => s.kind === "lr")).toBe(false);
  });

  for (const target of ["js", "wasm"] as const)
    it(`applies step_decay's lr per epoch (${target})`, async () => {
      const { mod } = await probe("step_decay(0.5, every: 1, gamma: 0.5)", target);
      const model = await mod.createModel({ stepsPerEpoch: 2 });
      const got = await appliedLrs(model, 6);
      const want = [0.5, 0.5, 0.25, 0.25, 0.125, 0.125];
      got.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 6));
      model.dispose();
    });

  it("applies cosine's lr per step, and createModel's epochs move its end", async () => {
    const { mod, program } = await probe("cosine(0.5, warmup: 2)");
    const slot = program.entries
      .find((e) => e.name === "step")!
      .inSlots.find((s) => s.kind === "lr");
    expect(slot).toEqual({
      kind: "lr",
      schedule: { kind: "cosine", lr: 0.5, warmup: 2 },
      epochs: 3,
    });
    for (const epochs of [undefined, 2]) {
      const model = await mod.createModel({ stepsPerEpoch: 2, ...(epochs && { epochs }) });
      const run = { stepsPerEpoch: 2, epochs: epochs ?? 3 };
      const want = Array.from({ length: 6 }, (_, i) =>
        Math.fround(scheduleLr({ kind: "cosine", lr: 0.5, warmup: 2 }, i + 1, run)),
      );
      const got = await appliedLrs(model, 6);
      got.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 6));
      model.dispose();
    }
  });

  it("is what the float64 interpreter's replay of a step feeds the lr slot (test/entry-inputs.ts)", async () => {
    const { mod, program } = await probe("step_decay(0.5, every: 1, gamma: 0.5)");
    const step = program.entries.find((e) => e.name === "step")!;
    const model = await mod.createModel({ stepsPerEpoch: 2 });
    for (let t = 1; t <= 5; t++) {
      const before = Float64Array.from((await model.params()).w!);
      const outs = interpret(
        step.graph,
        slotInputs(program, step, { B: 4 }, batch, [before], 0, t, 2),
        { B: 4 },
      );
      await model.step(batch);
      const i = step.outSlots.findIndex((s) => s.kind === "param");
      expect((await model.params()).w![0]).toBeCloseTo(outs[i]!.data[0]!, 6);
      expect(before[0]! - outs[i]!.data[0]!).toBeCloseTo(0.5 * 0.5 ** Math.floor((t - 1) / 2), 12);
    }
  });

  it("refuses a run that cannot drive the schedule, changing nothing", async () => {
    const { mod } = await probe("exponential(0.5, gamma: 0.5)");
    const model = await mod.createModel({});
    await expect(model.step(batch)).rejects.toThrow(
      /step\(\): the learning rate follows exponential\(0.5, gamma: 0.5\), which changes per epoch: create the model with createModel\(\{ stepsPerEpoch: N \}\)/,
    );
    expect(model.steps).toBe(0);
    // predict/evaluate need no run.
    await expect(model.evaluate(batch)).resolves.toBeDefined();
    await expect(mod.createModel({ stepsPerEpoch: 0 })).rejects.toThrow(
      "createModel(): stepsPerEpoch must be a positive integer, got 0",
    );
    await expect(mod.createModel({ stepsPerEpoch: 2, epochs: 1.5 })).rejects.toThrow(
      "createModel(): epochs must be a positive integer, got 1.5",
    );
    const cos = (await probe("cosine(0.5, warmup: 6)")).mod;
    await expect(cos.createModel({ stepsPerEpoch: 2 })).rejects.toThrow(
      "createModel(): cosine(0.5, warmup: 6) warms up over 6 steps, but the run has 6 (2 steps per epoch × 3 epochs): cosine needs at least one step after its warm-up",
    );
  });

  it("continues the schedule from a checkpoint's step count, bit for bit", async () => {
    const { mod } = await probe("cosine(0.5, warmup: 3)", "js", 4);
    const opts = { stepsPerEpoch: 3 };
    const whole = await mod.createModel(opts);
    for (let i = 0; i < 12; i++) await whole.step(batch);
    const first = await mod.createModel(opts);
    for (let i = 0; i < 5; i++) await first.step(batch);
    const resumed = await mod.createModel(opts);
    await resumed.load(await first.save());
    for (let i = 5; i < 12; i++) await resumed.step(batch);
    expect(Buffer.from(await resumed.save()).equals(Buffer.from(await whole.save()))).toBe(true);
    // And the schedule did change the lr: another epoch count gives other params.
    const other = await mod.createModel({ stepsPerEpoch: 3, epochs: 5 });
    for (let i = 0; i < 12; i++) await other.step(batch);
    expect((await other.params()).w![0]).not.toBe((await whole.params()).w![0]);
  });
});
